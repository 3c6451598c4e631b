package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Entry is one thing the scheduler does on a cron schedule. Every effect is
// idempotent, so that any number of schedulers may run the same entries.
type Entry struct {
	// Name names the entry in logs.
	Name string
	// Spec is a robfig/cron spec, UTC: "@every 1m", "*/5 * * * *".
	Spec string
	// RunFunc does the work as of now, the injected clock's time.
	RunFunc func(ctx context.Context, now time.Time) error
}

// Run runs entries on their schedules until ctx ends, then waits for the
// runs in progress. A run's error is logged; the next run tries again. An
// entry whose previous run is still going is skipped, not stacked.
func Run(ctx context.Context, entries []Entry, nowFunc func() time.Time, log *slog.Logger) error {
	if nowFunc == nil {
		nowFunc = time.Now
	}
	c := cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	for _, e := range entries {
		if _, err := c.AddFunc(e.Spec, func() {
			if err := e.RunFunc(ctx, nowFunc()); err != nil && ctx.Err() == nil {
				log.Error("scheduler: entry failed", "entry", e.Name, "err", err)
			}
		}); err != nil {
			return fmt.Errorf("scheduler entry %s: spec %q: %w", e.Name, e.Spec, err)
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

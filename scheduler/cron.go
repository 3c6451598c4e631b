package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Entry is one thing the scheduler does on a cron schedule. Every effect is
// idempotent, so that any number of schedulers may run the same entries.
type Entry struct {
	// Name names the entry in logs and metrics.
	Name string
	// Spec is a robfig/cron spec, UTC: "@every 1m", "*/5 * * * *".
	Spec string
	// Did says what RunFunc's count counts, for the log: "refreshed pools".
	Did string
	// RunFunc does the work as of now, the injected clock's time, and
	// returns how much it did (pools refreshed, reservations reaped, …).
	RunFunc func(ctx context.Context, now time.Time) (int, error)
}

// RunOptions tune Run.
type RunOptions struct {
	// NowFunc is the clock each run is given. Defaults to time.Now.
	NowFunc func() time.Time
	// Logger logs what runs did and why they failed. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Registerer, when set, gets the scheduler's metrics (see Metrics).
	Registerer prometheus.Registerer
}

// Run runs entries on their schedules until ctx ends, then waits for the
// runs in progress. A run's error is logged and counted; the next run tries
// again. An entry whose previous run is still going is skipped, not stacked.
// It returns an error for a bad spec, or for metrics that cannot be
// registered.
func Run(ctx context.Context, entries []Entry, opts RunOptions) error {
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := newMetrics()
	if opts.Registerer != nil {
		if err := m.register(opts.Registerer); err != nil {
			return fmt.Errorf("scheduler metrics: %w", err)
		}
	}
	c := cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	for _, e := range entries {
		if _, err := c.AddFunc(e.Spec, func() { runEntry(ctx, e, opts, m) }); err != nil {
			return fmt.Errorf("scheduler entry %s: spec %q: %w", e.Name, e.Spec, err)
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// runEntry runs e once, then logs and counts what it did.
func runEntry(ctx context.Context, e Entry, opts RunOptions, m *metrics) {
	start := time.Now()
	n, err := e.RunFunc(ctx, opts.NowFunc())
	m.observe(e.Name, n, err, time.Since(start))
	switch {
	case n > 0:
		opts.Logger.Info("scheduler: "+e.Did, "entry", e.Name, "count", n)
	case err == nil:
		// Most runs find nothing to do; at info they would drown the rest.
		opts.Logger.Debug("scheduler: nothing to do", "entry", e.Name)
	}
	if err != nil && ctx.Err() == nil {
		opts.Logger.Error("scheduler: entry failed", "entry", e.Name, "err", err)
	}
}

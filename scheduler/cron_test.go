package scheduler_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditrun/creditrun/internal/metricstest"
	"github.com/creditrun/creditrun/scheduler"
)

// syncWriter is a log that the test reads while Run writes it.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestRunEntries runs an entry that does some work, then fails, then runs
// again: each run gets the injected clock, and the log and the metrics say
// what the runs did.
func TestRunEntries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	fixed := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	ran := make(chan time.Time, 16)
	calls := 0
	entries := []scheduler.Entry{{Name: "tick", Spec: "@every 1s", Did: "ticked", RunFunc: func(_ context.Context, now time.Time) (int, error) {
		calls++ // runs of one entry never overlap
		ran <- now
		switch calls {
		case 1:
			return 3, nil
		case 2:
			return 0, errors.New("logged, not fatal")
		}
		return 0, nil
	}}}
	reg := prometheus.NewRegistry()
	log := &syncWriter{}
	done := make(chan error, 1)
	go func() {
		done <- scheduler.Run(ctx, entries, scheduler.RunOptions{
			NowFunc: func() time.Time { return fixed }, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: reg,
		})
	}()
	for range 3 { // an entry that failed runs again
		select {
		case now := <-ran:
			if !now.Equal(fixed) {
				t.Fatalf("the entry ran as of %s, want the injected clock's %s", now, fixed)
			}
		case <-time.After(30 * time.Second): // a safety net, not a measure
			t.Fatal("the entry never ran")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`level=INFO msg="scheduler: ticked" entry=tick count=3`,
		`level=ERROR msg="scheduler: entry failed" entry=tick err="logged, not fatal"`,
		`level=DEBUG msg="scheduler: nothing to do" entry=tick`, // the third run
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, log.String())
		}
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 { return metricstest.Value(families, name, labels...) }
	if v := value("creditrun_scheduler_runs_total", "entry", "tick", "result", "error"); v != 1 {
		t.Errorf("error runs %v, want 1", v)
	}
	ok := value("creditrun_scheduler_runs_total", "entry", "tick", "result", "ok")
	if ok < 2 {
		t.Errorf("ok runs %v, want at least 2", ok)
	}
	if v := value("creditrun_scheduler_done_total", "entry", "tick"); v != 3 {
		t.Errorf("done %v, want 3", v)
	}
	if v := value("creditrun_scheduler_run_duration_seconds", "entry", "tick"); v != ok+1 {
		t.Errorf("%v durations observed, want %v", v, ok+1)
	}
	if v := value("creditrun_scheduler_last_success_timestamp_seconds", "entry", "tick"); v < float64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("last success at %v", v)
	}
}

func TestRunRefusesBadSpec(t *testing.T) {
	t.Parallel()
	err := scheduler.Run(context.Background(), []scheduler.Entry{{Name: "bad", Spec: "@montly", RunFunc: func(context.Context, time.Time) (int, error) { return 0, nil }}}, scheduler.RunOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		t.Fatal("a bad spec was accepted")
	}
}

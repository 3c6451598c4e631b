package scheduler_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/creditrun/creditrun/scheduler"
)

func TestRunEntries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	fixed := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	ran := make(chan time.Time, 16)
	entries := []scheduler.Entry{{Name: "tick", Spec: "@every 1s", RunFunc: func(_ context.Context, now time.Time) error {
		ran <- now
		return errors.New("logged, not fatal")
	}}}
	done := make(chan error, 1)
	go func() {
		done <- scheduler.Run(ctx, entries, func() time.Time { return fixed }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	for range 2 { // an entry that failed runs again
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
}

func TestRunRefusesBadSpec(t *testing.T) {
	t.Parallel()
	err := scheduler.Run(context.Background(), []scheduler.Entry{{Name: "bad", Spec: "@montly", RunFunc: func(context.Context, time.Time) error { return nil }}}, nil, slog.Default())
	if err == nil {
		t.Fatal("a bad spec was accepted")
	}
}

package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// TestSchedule runs the scheduler's entries as creditrun wires them: the
// refresh entry starts a pool's next period once its period has ended, and
// running it again changes nothing; the other entries run clean.
func TestSchedule(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	ctx := context.Background()
	cfg := config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), WorkerConcurrency: 2, ResultTTL: time.Hour,
		LinkTTL: time.Minute, PartRecords: 1000}
	a, err := newApp(ctx, cfg, srv.URL(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	if _, err := a.svc.CreateAccount(ctx, "sched", "Sched", []string{"people-1k-99"}); err != nil {
		t.Fatal(err)
	}
	before, err := a.ledger.Pool(ctx, "sched", "people")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := a.schedule()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]func(context.Context, time.Time) (int, error){}
	for _, e := range entries {
		byName[e.Name] = e.RunFunc
	}
	if byName["refresh"] == nil || byName["expire-grants"] == nil || byName["heal"] == nil || byName["reap"] == nil || byName["expire"] == nil ||
		byName["reindex"] == nil || byName["trim-journals"] == nil || len(entries) != 7 {
		t.Fatalf("entries %v", entries)
	}
	later := before.PeriodEnd.Add(time.Hour)
	for range 2 {
		if _, err := byName["refresh"](ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	after, err := a.ledger.Pool(ctx, "sched", "people")
	if err != nil {
		t.Fatal(err)
	}
	if !after.PeriodStart.Equal(before.PeriodEnd) || after.Allocated != 1000 || after.Used != 0 {
		t.Fatalf("after the sweep: %+v (before %+v)", after.Balance, before.Balance)
	}
	entriesOf, err := a.ledger.JournalAll(ctx, "sched")
	if err != nil {
		t.Fatal(err)
	}
	refreshes := 0
	for _, e := range entriesOf {
		if e.Type == "refresh" {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Fatalf("%d refresh entries, want 1", refreshes)
	}
	if _, err := byName["heal"](ctx, later); err != nil {
		t.Fatal(err)
	}
	// No reservation is stranded and no result file is old: the reaper
	// and the expiry find nothing to do.
	for _, name := range []string{"reap", "expire"} {
		if _, err := byName[name](ctx, later); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// A pool missing from the period index is put back by the reindex.
	if err := a.redis.ZRem(ctx, "cr:periods:people", "sched").Err(); err != nil {
		t.Fatal(err)
	}
	if ended, err := a.ledger.PoolsEndedBefore(ctx, "people", later.AddDate(1, 0, 0), 0, 10); err != nil || len(ended) != 0 {
		t.Fatalf("index after the drop: %v, %v", ended, err)
	}
	if _, err := byName["reindex"](ctx, later); err != nil {
		t.Fatal(err)
	}
	ended, err := a.ledger.PoolsEndedBefore(ctx, "people", later.AddDate(1, 0, 0), 0, 10)
	if err != nil || len(ended) != 1 || ended[0].Account != "sched" || !ended[0].PeriodEnd.Equal(after.PeriodEnd) {
		t.Fatalf("index after the reindex: %+v, %v", ended, err)
	}
	ledgertest.CheckAccount(t, a.ledger, "sched")
}

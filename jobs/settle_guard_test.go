package jobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// lostSettles is a ledger whose settles answer as if they had run, and do
// not: what a client sees when Redis acknowledges a write and then loses it
// (appendfsync everysec killed, a failover without WAIT).
type lostSettles struct{ jobs.Ledger }

func (lostSettles) Settle(_ context.Context, req credit.SettleRequest) (credit.Reservation, error) {
	return credit.Reservation{Account: req.Account, Pool: req.Pool, JobID: req.JobID, State: credit.Settled,
		TotalCost: req.Cost}, nil
}

// TestCompleteNeedsItsSettlement: a job whose settle was acknowledged but
// lost is not marked succeeded (it would show a cost the ledger never took,
// and the reaper would void its reservation); it stays running, and the
// next delivery settles it and succeeds, charged once.
func TestCompleteNeedsItsSettlement(t *testing.T) {
	t.Parallel()
	var cfg jobs.Config
	f := newFixture(t, func(c *jobs.Config) { cfg = *c })
	a := f.account(t, "people-10")
	j, err := f.svc.Submit(ctx, a, search(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	// Without a Recorder: with one, the settle and the record's write go
	// down one pipeline, and Redis loses a suffix of what it acknowledged,
	// so a record written there has its settle.
	cfg.Ledger, cfg.Recorder = lostSettles{cfg.Ledger}, nil
	out := jobs.Outcome{Found: 3, Delivered: 3, Records: []byte(`[{"id":"p1"},{"id":"p2"},{"id":"p3"}]`)}
	if _, err := jobs.NewService(cfg).Complete(ctx, a, j.ID, out); !errors.Is(err, jobs.ErrGuardFailed) {
		t.Fatalf("complete after a lost settle: %v, want ErrGuardFailed", err)
	}
	if got, err := f.svc.Get(ctx, a, j.ID); err != nil || got.Status != jobs.Running {
		t.Fatalf("after a lost settle the job is %s (%v), want still running", got.Status, err)
	}
	done, err := f.svc.Complete(ctx, a, j.ID, out)
	if err != nil || done.Status != jobs.Succeeded || done.TotalCost != 3 || done.CreditsReleased != 7 {
		t.Fatalf("the next delivery: %+v, %v; want succeeded, cost 3, released 7", done, err)
	}
	if got := f.available(t, a, "people"); got != 7 {
		t.Fatalf("available %d, want 7", got)
	}
	f.checkInvariants(t, a)
}

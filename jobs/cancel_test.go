package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// acceptedEnrichment submits an enrichment of n items to the enhance-4
// plan, which charges per submitted item at acceptance.
func acceptedEnrichment(t *testing.T, f *fixture, account string, n int) jobs.Job {
	t.Helper()
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"name": string(rune('a' + i))}
	}
	j, err := f.svc.Submit(ctx, account, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if !j.ChargeAtAcceptance || j.TotalCost != int64(n) {
		t.Fatalf("the enrichment %+v is not charged %d at acceptance", j, n)
	}
	return j
}

// refunds counts the refund entries of a job in the account's journal.
func refunds(t *testing.T, f *fixture, account, job string) int {
	t.Helper()
	entries, err := f.l.JournalAll(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Type == credit.EntryRefund && e.JobID == job {
			n++
		}
	}
	return n
}

// oldCharges lists the jobs of the account left in the ledger's charges
// set: the marks the reaper works on.
func oldCharges(t *testing.T, f *fixture, account string) []string {
	t.Helper()
	var ids []string
	for r, err := range f.l.OldCharges(ctx, time.Now().Add(time.Hour)) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Account == account {
			ids = append(ids, r.JobID)
		}
	}
	return ids
}

// TestCancelUnstartedChargedAtAcceptance cancels a queued enrichment
// charged at acceptance: it never started, so all it was charged comes
// back, once, however often the cancel (or the reaper's pass) is repeated.
func TestCancelUnstartedChargedAtAcceptance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "enhance-4")
	j := acceptedEnrichment(t, f, a, 3)
	if got := f.available(t, a, "enhancement"); got != 1 {
		t.Fatalf("available %d after a charge of 3 from 4", got)
	}

	c, err := f.svc.Cancel(ctx, a, j.ID)
	if err != nil || c.Status != jobs.Canceled || c.CreditsReleased != 3 {
		t.Fatalf("cancel: %+v, %v; want canceled with 3 credits given back", c, err)
	}
	if _, err := f.svc.Cancel(ctx, a, j.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("a second cancel: %v, want ErrEnded", err)
	}
	// The reaper's pass over the charge, and a refund repeated after a
	// lost reply, give nothing back twice.
	if refunded, err := f.svc.FinishCharge(ctx, a, j.ID); err != nil || refunded {
		t.Errorf("the reaper on the canceled job: refunded %v, %v; want nothing more", refunded, err)
	}
	if r, err := f.l.Refund(ctx, a, j.ID, "again"); err != nil || r.State != credit.Refunded {
		t.Errorf("a repeated refund: %+v, %v", r, err)
	}
	if got := f.available(t, a, "enhancement"); got != 4 {
		t.Errorf("available %d after the cancel, want all 4 back", got)
	}
	if n := refunds(t, f, a, j.ID); n != 1 {
		t.Errorf("%d refund entries in the journal, want 1", n)
	}
	if marks := oldCharges(t, f, a); len(marks) != 0 {
		t.Errorf("charges still marked for the reaper: %v", marks)
	}
	if got, err := f.svc.Get(ctx, a, j.ID); err != nil || got.Status != jobs.Canceled {
		t.Errorf("the job after it all: %+v, %v", got, err)
	}
	// A worker that picks up its task finds it ended.
	if _, err := f.svc.Start(ctx, a, j.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("start after cancel: %v", err)
	}
	f.checkInvariants(t, a)
}

// TestCancelStartedChargedAtAcceptance cancels an enrichment charged at
// acceptance that has started: its charge stands, as before, and the
// reaper only drops its mark.
func TestCancelStartedChargedAtAcceptance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "enhance-4")
	j := acceptedEnrichment(t, f, a, 3)
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.Cancel(ctx, a, j.ID)
	if err != nil || c.Status != jobs.Canceled || c.CreditsReleased != 0 {
		t.Fatalf("cancel: %+v, %v; want canceled keeping its charge", c, err)
	}
	if refunded, err := f.svc.FinishCharge(ctx, a, j.ID); err != nil || refunded {
		t.Errorf("the reaper on the canceled running job: refunded %v, %v; want its charge to stand", refunded, err)
	}
	if got := f.available(t, a, "enhancement"); got != 1 {
		t.Errorf("available %d, want 1: the charge of 3 stands", got)
	}
	if n := refunds(t, f, a, j.ID); n != 0 {
		t.Errorf("%d refund entries, want none", n)
	}
	if marks := oldCharges(t, f, a); len(marks) != 0 {
		t.Errorf("charges still marked for the reaper: %v", marks)
	}
	f.checkInvariants(t, a)
}

// TestCancelUnstartedRefundLeftToReaper cancels a queued job charged at
// acceptance whose refund does not follow (the ledger's Refund fails after
// the job is marked canceled): the mark stays, and the reaper refunds it.
func TestCancelUnstartedRefundLeftToReaper(t *testing.T) {
	t.Parallel()
	var fl *refundFails
	f := newFixture(t, func(cfg *jobs.Config) {
		fl = &refundFails{Ledger: cfg.Ledger}
		cfg.Ledger = fl
	})
	a := f.account(t, "enhance-4")
	j := acceptedEnrichment(t, f, a, 2)
	fl.fail.Store(true)
	c, err := f.svc.Cancel(ctx, a, j.ID)
	if err == nil || c.Status != jobs.Canceled {
		t.Fatalf("cancel with the refund failing: %+v, %v; want the job canceled and the error", c, err)
	}
	fl.fail.Store(false)
	if got := f.available(t, a, "enhancement"); got != 2 {
		t.Fatalf("available %d before the reaper, want the charge of 2 still out", got)
	}
	if refunded, err := f.svc.FinishCharge(ctx, a, j.ID); err != nil || !refunded {
		t.Fatalf("the reaper: refunded %v, %v; want the refund made", refunded, err)
	}
	if got := f.available(t, a, "enhancement"); got != 4 || refunds(t, f, a, j.ID) != 1 {
		t.Errorf("available %d, refunds %d; want 4 and one", got, refunds(t, f, a, j.ID))
	}
	f.checkInvariants(t, a)
}

// refundFails is the ledger with Refund failing while fail is set.
type refundFails struct {
	jobs.Ledger
	fail atomic.Bool
}

func (l *refundFails) Refund(ctx context.Context, account, job, reason string) (credit.Reservation, error) {
	if l.fail.Load() {
		return credit.Reservation{}, errors.New("ledger down")
	}
	return l.Ledger.Refund(ctx, account, job, reason)
}

package ledgertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger/credit"
)

// testRefund: a refund gives back exactly what a settled job was charged,
// once, however often it is repeated.
func testRefund(t *testing.T, h *Harness) {
	a := h.Account("ref")
	h.Open(t, a, poolCfg("people", 100, 50))

	// 100 available, 120 reserved with 20 overage; cost 110 posts 100
	// prepaid and 10 overage (a hold), and releases 10.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "o1", Requested: 120, Policy: credit.Overage})
	h.MustSettle(t, a, "people", "o1", 110)
	if p := h.MustPool(t, a, "people"); p.Counts != (credit.Counts{Allocated: 100, Used: 100, OverageOutstanding: 10}) {
		t.Fatalf("after settle: %+v", p.Counts)
	}
	r, err := h.L.Refund(ctx, a, "o1", "the worker died before recording the job")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != credit.Refunded || r.Refunded != 110 || r.OverageRefundDue != 0 || r.RefundedAt.IsZero() ||
		r.TotalCost != 110 || r.Released != 10 {
		t.Fatalf("refund %+v", r)
	}
	if p := h.MustPool(t, a, "people"); p.Counts != (credit.Counts{Allocated: 100}) {
		t.Fatalf("after refund: %+v", p.Counts)
	}
	hold, err := h.L.Hold(ctx, credit.HoldIDFor("o1"))
	if err != nil || hold.Status != credit.HoldWaived {
		t.Fatalf("hold %+v %v", hold, err)
	}

	// Again, as a retry after a lost reply would: nothing more moves.
	snap := h.Snapshot(t)
	again, err := h.L.Refund(ctx, a, "o1", "again")
	if err != nil || again.State != credit.Refunded || again.Refunded != 110 {
		t.Fatalf("refund again: %+v %v", again, err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a repeated refund changed Redis:\n%s", cmp.Diff(snap, after))
	}
	entries, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	refunds := 0
	for _, e := range entries {
		if e.Type == credit.EntryRefund {
			refunds++
			if e.JobID != "o1" || e.Amount != 100 || e.Delta != (credit.Counts{Used: -100}) || e.Reason == "" {
				t.Errorf("refund entry %+v", e)
			}
		}
	}
	if refunds != 1 {
		t.Errorf("%d refund entries, want 1", refunds)
	}

	// A refunded job can be neither released nor charged again: a cancel,
	// a worker's failure or a late completion racing the refund is
	// refused, and changes nothing.
	snap = h.Snapshot(t)
	if _, err := h.L.Void(ctx, a, "people", "o1", "canceled"); !errors.Is(err, credit.ErrAlreadyRefunded) {
		t.Fatalf("void after refund: %v, want ErrAlreadyRefunded", err)
	}
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "o1", Cost: 110}); !errors.Is(err, credit.ErrAlreadyRefunded) {
		t.Fatalf("settle after refund: %v, want ErrAlreadyRefunded", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a void or settle after the refund changed Redis:\n%s", cmp.Diff(snap, after))
	}

	// A hold paid before the refund stays paid and is marked refund due:
	// money for finance to pay back.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "o2", Requested: 105, Policy: credit.Overage})
	h.MustSettle(t, a, "people", "o2", 105)
	if _, err := h.L.PayHold(ctx, credit.HoldIDFor("o2"), "inv-1"); err != nil {
		t.Fatal(err)
	}
	r, err = h.L.Refund(ctx, a, "o2", "abandoned")
	if err != nil || r.Refunded != 100 || r.OverageRefundDue != 5 {
		t.Fatalf("refund of a paid job: %+v %v", r, err)
	}
	if p := h.MustPool(t, a, "people"); p.Counts != (credit.Counts{Allocated: 100}) {
		t.Fatalf("after the refund of a paid job: %+v", p.Counts)
	}
	if hold, err := h.L.Hold(ctx, credit.HoldIDFor("o2")); err != nil || hold.Status != credit.HoldPaid || hold.RefundDueCredits != 5 {
		t.Fatalf("the paid hold of a refunded job: %+v, %v; want paid with 5 credits due back", hold, err)
	}

	// Open and voided reservations are not refunded; an unknown one is
	// not found. None of them changes anything.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "open", Requested: 3, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "void", Requested: 3, Policy: credit.Reject})
	if _, err := h.L.Void(ctx, a, "people", "void", "canceled"); err != nil {
		t.Fatal(err)
	}
	snap = h.Snapshot(t)
	if _, err := h.L.Refund(ctx, a, "open", "x"); !errors.Is(err, credit.ErrReservationOpen) {
		t.Fatalf("refund of an open reservation: %v", err)
	}
	if r, err := h.L.Refund(ctx, a, "void", "x"); err != nil || r.State != credit.Voided {
		t.Fatalf("refund of a voided reservation: %+v %v", r, err)
	}
	if _, err := h.L.Refund(ctx, a, "nope", "x"); !errors.Is(err, credit.ErrReservationNotFound) {
		t.Fatalf("refund of an unknown job: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused refund changed Redis:\n%s", cmp.Diff(snap, after))
	}
	h.MustSettle(t, a, "people", "open", 3)
	h.CheckInvariants(t, a)
}

// testRefundDedup: a refunded dedup job gives back the record ids it was the
// first to charge, and only those.
func testRefundDedup(t *testing.T, h *Harness) {
	a := h.Account("refdd")
	h.Open(t, a, poolCfg("businesses", 100, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e1", Requested: 1, ItemIDs: []string{"b1"}, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e1", Cost: 1, RecordIDs: []string{"b1"}}); err != nil {
		t.Fatal(err)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e2", Requested: 3, ItemIDs: []string{"b1", "b2", "b3"}, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e2", Cost: 3, RecordIDs: []string{"b1", "b2", "b3"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.L.ChargedRecords(ctx, a, "businesses"); n != 3 {
		t.Fatalf("charged %d records, want 3", n)
	}
	if _, err := h.L.Refund(ctx, a, "e2", "abandoned"); err != nil {
		t.Fatal(err)
	}
	// b1 stays charged (by e1); b2 and b3 are charged again by the next job.
	if n, _ := h.L.ChargedRecords(ctx, a, "businesses"); n != 1 {
		t.Fatalf("after the refund %d records charged, want 1", n)
	}
	r := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e3", Requested: 3, ItemIDs: []string{"b1", "b2", "b3"}, Policy: credit.Reject, Dedup: true})
	if r.Skipped != 1 || r.Reserved() != 2 {
		t.Fatalf("e3 %+v", r)
	}
	if p := h.MustPool(t, a, "businesses"); p.Counts != (credit.Counts{Allocated: 100, Used: 1, Reserved: 2}) {
		t.Fatalf("pool %+v", p.Counts)
	}
	h.CheckInvariants(t, a)
}

// testRefundAcceptance: a charge posted at acceptance waits in the charges
// set until it is refunded or dropped, and its refund gives its ids back.
func testRefundAcceptance(t *testing.T, h *Harness) {
	a := h.Account("refacc")
	h.Open(t, a, poolCfg("businesses", 10, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "acc1", Requested: 2, ItemIDs: []string{"b1", "b2"}, Policy: credit.Reject, Dedup: true, ChargeAtAcceptance: true})
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "acc2", Requested: 1, ItemIDs: []string{"b3"}, Policy: credit.Reject, Dedup: true, ChargeAtAcceptance: true})
	if got := oldCharges(t, h, h.Clock.Now()); len(got) != 0 {
		t.Fatalf("charges older than now: %v", got)
	}
	h.Clock.Advance(time.Minute)
	if got := oldCharges(t, h, h.Clock.Now()); !slices.Equal(got, []string{"acc1", "acc2"}) {
		t.Fatalf("old charges %v, want acc1 and acc2", got)
	}
	if err := h.L.DropCharge(ctx, a, "acc2"); err != nil {
		t.Fatal(err)
	}
	r, err := h.L.Refund(ctx, a, "acc1", "the job was never recorded")
	if err != nil || r.State != credit.Refunded || r.Refunded != 2 {
		t.Fatalf("refund %+v %v", r, err)
	}
	if got := oldCharges(t, h, h.Clock.Now()); len(got) != 0 {
		t.Fatalf("old charges after refund and drop: %v", got)
	}
	if n, _ := h.L.ChargedRecords(ctx, a, "businesses"); n != 1 {
		t.Fatalf("%d records charged, want 1 (b3)", n)
	}
	if p := h.MustPool(t, a, "businesses"); p.Counts != (credit.Counts{Allocated: 10, Used: 1}) {
		t.Fatalf("pool %+v", p.Counts)
	}
	// A mark made by hand (an abandon's) is seen once old enough.
	if err := h.L.MarkRefundDue(ctx, a, "acc2"); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Second)
	if got := oldCharges(t, h, h.Clock.Now()); !slices.Equal(got, []string{"acc2"}) {
		t.Fatalf("old charges %v, want acc2", got)
	}
	h.CheckInvariants(t, a)
}

// testRefundLaterPeriod: a charge of an earlier period comes back as
// allocation of the current one.
func testRefundLaterPeriod(t *testing.T, h *Harness) {
	a := h.Account("refper")
	p := h.Open(t, a, poolCfg("people", 100, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 30, Policy: credit.Reject})
	h.MustSettle(t, a, "people", "j1", 30)
	h.Clock.Advance(p.PeriodEnd.Sub(h.Clock.Now()) + time.Second)
	if _, _, err := h.L.Refresh(ctx, a, "people", p.PeriodEnd, p.PeriodEnd.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.L.Refund(ctx, a, "j1", "abandoned"); err != nil {
		t.Fatal(err)
	}
	if got := h.MustPool(t, a, "people"); got.Counts != (credit.Counts{Allocated: 130}) {
		t.Fatalf("pool %+v, want 130 allocated and nothing used", got.Counts)
	}
	h.CheckInvariants(t, a)
}

// testRefundLateRefresh: a charge posted after its period's end but before
// the refresh applied belongs to the old period; refunded after the refresh,
// it comes back as allocation, and used stays at zero.
func testRefundLateRefresh(t *testing.T, h *Harness) {
	a := h.Account("reflate")
	p := h.Open(t, a, poolCfg("people", 100, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 30, Policy: credit.Reject})
	h.Clock.Advance(p.PeriodEnd.Sub(h.Clock.Now()) + time.Second)
	h.MustSettle(t, a, "people", "j1", 30) // after the boundary, before the sweep
	if _, _, err := h.L.Refresh(ctx, a, "people", p.PeriodEnd, p.PeriodEnd.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.L.Refund(ctx, a, "j1", "abandoned"); err != nil {
		t.Fatal(err)
	}
	if got := h.MustPool(t, a, "people"); got.Counts != (credit.Counts{Allocated: 130}) {
		t.Fatalf("pool %+v, want 130 allocated and nothing used", got.Counts)
	}
	h.CheckInvariants(t, a)
}

// testKeyedAdjust: a top-up or an adjustment is applied once per key.
func testKeyedAdjust(t *testing.T, h *Harness) {
	a := h.Account("key")
	h.Open(t, a, poolCfg("people", 100, 0))
	for range 3 {
		p, err := h.L.TopUp(ctx, a, "people", 1000, "bought", "k1")
		if err != nil || p.Allocated != 1100 {
			t.Fatalf("top-up k1: %+v %v", p.Counts, err)
		}
	}
	p, err := h.L.Adjust(ctx, a, "people", -100, "correction", "k2")
	if err != nil || p.Allocated != 1000 {
		t.Fatalf("adjust k2: %+v %v", p.Counts, err)
	}
	snap := h.Snapshot(t)
	for _, call := range []func() error{
		func() error { _, err := h.L.TopUp(ctx, a, "people", 999, "", "k1"); return err },
		func() error { _, err := h.L.Adjust(ctx, a, "people", 1000, "", "k1"); return err },
		func() error { _, err := h.L.Adjust(ctx, a, "people", -100, "", "k1"); return err },
	} {
		if err := call(); !errors.Is(err, credit.ErrKeyConflict) {
			t.Fatalf("a key reused for another change: %v, want ErrKeyConflict", err)
		}
	}
	if _, err := h.L.Adjust(ctx, a, "people", -100, "correction", "k2"); err != nil {
		t.Fatalf("adjust k2 again: %v", err)
	}
	if _, err := h.L.TopUp(ctx, a, "people", 1, "", "bad key"); !errors.Is(err, credit.ErrInvalidID) {
		t.Fatalf("a key with a space: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a repeated or refused change changed Redis:\n%s", cmp.Diff(snap, after))
	}
	// Without a key, each call is a change of its own.
	for range 2 {
		if _, err := h.L.TopUp(ctx, a, "people", 5, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if p := h.MustPool(t, a, "people"); p.Allocated != 1010 {
		t.Fatalf("allocated %d, want 1010", p.Allocated)
	}
	h.CheckInvariants(t, a)
}

// oldCharges returns the job ids OldCharges yields for the harness's
// accounts, sorted.
func oldCharges(t *testing.T, h *Harness, before time.Time) []string {
	t.Helper()
	var ids []string
	for r, err := range h.L.OldCharges(ctx, before) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Account != "" && h.ownsAccount(r.Account) {
			ids = append(ids, r.JobID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

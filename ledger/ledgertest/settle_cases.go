package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

func testSettle(t *testing.T, h *Harness) {
	a := h.Account("set")
	h.Open(t, a, poolCfg("people", 100, 50))

	// A search of 10 that matched 1 costs 1 and releases 9.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "s1", Requested: 10, Policy: credit.Reject})
	r := h.MustSettle(t, a, "people", "s1", 1)
	if r.State != credit.Settled || r.TotalCost != 1 || r.Released != 9 || r.OveragePosted != 0 || r.HoldID != "" {
		t.Fatalf("s1 %+v", r)
	}
	// A search that matched nothing costs 0.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "s2", Requested: 5, Policy: credit.Reject})
	if r := h.MustSettle(t, a, "people", "s2", 0); r.TotalCost != 0 || r.Released != 5 {
		t.Fatalf("s2 %+v", r)
	}
	p := h.MustPool(t, a, "people")
	if p.Counts != (credit.Counts{Allocated: 100, Used: 1}) {
		t.Fatalf("pool %+v", p.Counts)
	}

	// Overage: 99 available, 130 needed: 31 overage reserved; cost 120 posts
	// 99 prepaid and 21 overage, releases 10, opens a hold for 21 credits.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "o1", Requested: 130, Policy: credit.Overage})
	r = h.MustSettle(t, a, "people", "o1", 120)
	want := credit.Settlement{Cost: 120, PrepaidPosted: 99, OveragePosted: 21, Released: 10}
	if got, _ := credit.Settle(99, 31, 120); got != want {
		t.Fatalf("credit.Settle = %+v", got)
	}
	if r.TotalCost != want.Cost || r.PrepaidPosted != want.PrepaidPosted || r.OveragePosted != want.OveragePosted ||
		r.Released != want.Released || r.HoldID != credit.HoldIDFor("o1") {
		t.Fatalf("o1 %+v", r)
	}
	hold, err := h.L.Hold(ctx, r.HoldID)
	if err != nil {
		t.Fatal(err)
	}
	wantHold := credit.Hold{ID: r.HoldID, Account: a, JobID: "o1", Pool: "people", OverageCredits: 21,
		AmountDueCents: 210, Status: credit.HoldUnpaid, CreatedAt: h.Clock.Now()}
	if diff := cmp.Diff(wantHold, hold); diff != "" {
		t.Fatalf("hold (-want +got):\n%s", diff)
	}
	p = h.MustPool(t, a, "people")
	if p.Counts != (credit.Counts{Allocated: 100, Used: 100, OverageOutstanding: 21}) {
		t.Fatalf("pool %+v", p.Counts)
	}

	// A cost beyond the reservation is refused and changes nothing.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "big", Requested: 5, Policy: credit.Overage})
	snap := h.Snapshot(t)
	for _, cost := range []int64{6, -1} {
		_, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "big", Cost: cost})
		if !errors.Is(err, credit.ErrCostExceedsReserved) {
			t.Fatalf("cost %d: %v", cost, err)
		}
	}
	// Settling against the wrong pool is refused.
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "other", JobID: "big", Cost: 1}); !errors.Is(err, credit.ErrReservationConflict) {
		t.Fatalf("wrong pool: %v", err)
	}
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "nope", Cost: 1}); !errors.Is(err, credit.ErrReservationNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused settle changed Redis:\n%s", cmp.Diff(snap, after))
	}
	h.MustSettle(t, a, "people", "big", 5)
	h.CheckInvariants(t, a)
}

// testRedelivery plays what asynq's at-least-once delivery does to a job.
func testRedelivery(t *testing.T, h *Harness) {
	a := h.Account("redo")
	h.Open(t, a, poolCfg("people", 100, 0))
	req := credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 10, Policy: credit.Reject}
	first := h.MustReserve(t, req)

	// Reserve again with the same job id: the first reservation, nothing more.
	snap := h.Snapshot(t)
	again := h.MustReserve(t, req)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Fatalf("second reserve (-first +second):\n%s", diff)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatal("a repeated reserve changed Redis")
	}
	// The same id with other terms is a conflict.
	if _, err := h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 11, Policy: credit.Reject}); !errors.Is(err, credit.ErrReservationConflict) {
		t.Fatalf("other terms: %v", err)
	}

	settled := h.MustSettle(t, a, "people", "j1", 4)
	snap = h.Snapshot(t)
	// Settle again, even with another cost: the first result, unchanged.
	for _, cost := range []int64{4, 7} {
		r := h.MustSettle(t, a, "people", "j1", cost)
		if diff := cmp.Diff(settled, r); diff != "" {
			t.Fatalf("second settle (-first +second):\n%s", diff)
		}
	}
	// Void after settle is refused.
	if _, err := h.L.Void(ctx, a, "people", "j1", "late cancel"); !errors.Is(err, credit.ErrAlreadySettled) {
		t.Fatalf("void after settle: %v", err)
	}
	// Reserve again after settle: the settled reservation.
	if r := h.MustReserve(t, req); r.State != credit.Settled || r.TotalCost != 4 {
		t.Fatalf("reserve after settle: %+v", r)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("redelivery changed Redis:\n%s", cmp.Diff(snap, after))
	}

	// Void, void again, then settle: refused.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j2", Requested: 20, Policy: credit.Reject})
	v, err := h.L.Void(ctx, a, "people", "j2", "failed")
	if err != nil || v.State != credit.Voided || v.Released != 20 {
		t.Fatalf("void: %+v, %v", v, err)
	}
	snap = h.Snapshot(t)
	if v2, err := h.L.Void(ctx, a, "people", "j2", "failed"); err != nil || !cmp.Equal(v, v2) {
		t.Fatalf("second void: %+v, %v", v2, err)
	}
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "j2", Cost: 3}); !errors.Is(err, credit.ErrAlreadyVoided) {
		t.Fatalf("settle after void: %v", err)
	}
	if r := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j2", Requested: 20, Policy: credit.Reject}); r.State != credit.Voided {
		t.Fatalf("reserve after void: %+v", r)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("redelivery after void changed Redis:\n%s", cmp.Diff(snap, after))
	}
	if _, err := h.L.Void(ctx, a, "people", "nope", ""); !errors.Is(err, credit.ErrReservationNotFound) {
		t.Fatalf("void unknown: %v", err)
	}
	p := h.MustPool(t, a, "people")
	if p.Counts != (credit.Counts{Allocated: 100, Used: 4}) {
		t.Fatalf("pool %+v", p.Counts)
	}
	h.CheckInvariants(t, a)
}

func testChargeAtAcceptance(t *testing.T, h *Harness) {
	a := h.Account("acc")
	h.Open(t, a, poolCfg("enhancement", 5, 20))
	// Posts at acceptance: used grows at once, nothing is reserved.
	r := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "enhancement", JobID: "e1", Requested: 4,
		ItemIDs: []string{"", "", "", ""}, Policy: credit.Partial, ChargeAtAcceptance: true})
	if r.State != credit.Settled || r.TotalCost != 4 || r.Released != 0 || r.Remaining != 1 {
		t.Fatalf("e1 %+v", r)
	}
	p := h.MustPool(t, a, "enhancement")
	if p.Counts != (credit.Counts{Allocated: 5, Used: 4}) {
		t.Fatalf("pool %+v", p.Counts)
	}
	// The work failing changes nothing: the charge stands.
	if _, err := h.L.Void(ctx, a, "enhancement", "e1", "worker failed"); !errors.Is(err, credit.ErrAlreadySettled) {
		t.Fatalf("void: %v", err)
	}
	// Settling reports the posted charge.
	if s := h.MustSettle(t, a, "enhancement", "e1", 2); s.TotalCost != 4 {
		t.Fatalf("settle %+v", s)
	}
	// Partial: 3 items, 1 credit left: 1 posted.
	r = h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "enhancement", JobID: "e2", Requested: 3,
		ItemIDs: []string{"", "", ""}, Policy: credit.Partial, ChargeAtAcceptance: true})
	if r.Processed != 1 || r.TotalCost != 1 || !r.Partial() {
		t.Fatalf("e2 %+v", r)
	}
	// Overage at acceptance: posted as debt with a hold.
	r = h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "enhancement", JobID: "e3", Requested: 3,
		Policy: credit.Overage, ChargeAtAcceptance: true})
	if r.OveragePosted != 3 || r.HoldID == "" {
		t.Fatalf("e3 %+v", r)
	}
	p = h.MustPool(t, a, "enhancement")
	if p.Counts != (credit.Counts{Allocated: 5, Used: 5, OverageOutstanding: 3}) {
		t.Fatalf("pool %+v", p.Counts)
	}
	if hold, err := h.L.Hold(ctx, r.HoldID); err != nil || hold.OverageCredits != 3 || hold.Status != credit.HoldUnpaid {
		t.Fatalf("hold %+v, %v", hold, err)
	}
	pending, err := h.L.ReservationsOlderThan(ctx, h.Clock.Now().Add(1), 100)
	if err != nil || len(pending) != 0 {
		t.Fatalf("posted reservations are not pending: %v, %v", pending, err)
	}
	h.CheckInvariants(t, a)
}

func testDedup(t *testing.T, h *Harness) {
	a := h.Account("dd")
	h.Open(t, a, poolCfg("businesses", 100, 0))
	ids := []string{"b1", "b2", "b3"}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e1", Requested: 3, ItemIDs: ids, Policy: credit.Reject, Dedup: true})
	// Two jobs in flight at once with the same record: reserved by both,
	// charged by the first to settle only.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e2", Requested: 2, ItemIDs: []string{"b3", "b4"}, Policy: credit.Reject, Dedup: true})
	r1, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e1", Cost: 3, RecordIDs: ids})
	if err != nil || r1.TotalCost != 3 {
		t.Fatalf("e1 %+v %v", r1, err)
	}
	r2, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e2", Cost: 2, RecordIDs: []string{"b3", "b4"}})
	if err != nil || r2.TotalCost != 1 || r2.Released != 1 {
		t.Fatalf("e2 %+v %v", r2, err)
	}
	// A second enrichment of charged records reserves nothing for them.
	r3 := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e3", Requested: 4, ItemIDs: []string{"b1", "b4", "b5", ""}, Policy: credit.Reject, Dedup: true})
	if r3.Skipped != 2 || r3.Reserved() != 2 || r3.Processed != 4 {
		t.Fatalf("e3 %+v", r3)
	}
	// Free items match records too: ids past the reservation are fine while
	// the records not charged before are not.
	r4 := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e4", Requested: 2, ItemIDs: []string{"b1", ""}, Policy: credit.Reject, Dedup: true})
	if r4.Reserved() != 1 {
		t.Fatalf("e4 %+v", r4)
	}
	snap := h.Snapshot(t)
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e4", Cost: 3, RecordIDs: []string{"b1", "b7", "b8"}}); !errors.Is(err, credit.ErrCostExceedsReserved) {
		t.Fatalf("two new records on one credit: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused settle changed Redis:\n%s", cmp.Diff(snap, after))
	}
	if r, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e4", Cost: 2, RecordIDs: []string{"b1", "b6"}}); err != nil || r.TotalCost != 1 || r.Released != 0 {
		t.Fatalf("e4 settle %+v, %v", r, err)
	}
	// A dedup settlement names one record per credit.
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "businesses", JobID: "e3", Cost: 2, RecordIDs: []string{"b5"}}); !errors.Is(err, credit.ErrInvalidAmount) {
		t.Fatalf("ids short: %v", err)
	}
	if r := h.MustSettle(t, a, "businesses", "e3", 0); r.TotalCost != 0 {
		t.Fatalf("e3 settle %+v", r)
	}
	// I7: every record charged once: the credits posted equal the ids charged.
	n, err := h.L.ChargedRecords(ctx, a, "businesses")
	if err != nil || n != 5 {
		t.Fatalf("dedup set has %d ids, %v", n, err)
	}
	if p := h.MustPool(t, a, "businesses"); p.Used != 5 {
		t.Fatalf("used %d, want 5", p.Used)
	}
	h.CheckInvariants(t, a)
}

// testReservationTTL checks that a reservation is kept for
// ledger.DefaultRetainEnded once it has ended (settled, voided, posted at
// acceptance, with items and dedup ids), and for good while it is open.
func testReservationTTL(t *testing.T, h *Harness) {
	a := h.Account("ttl")
	h.Open(t, a, poolCfg("people", 100, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "open", Requested: 1, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "settled", Requested: 3, Policy: credit.Reject})
	h.MustSettle(t, a, "people", "settled", 2)
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "dedup", Requested: 2, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "dedup", Cost: 2, RecordIDs: []string{"r1", "r2"}}); err != nil {
		t.Fatal(err)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "voided", Requested: 4, Policy: credit.Reject})
	if _, err := h.L.Void(ctx, a, "people", "voided", "canceled"); err != nil {
		t.Fatal(err)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "accepted", Requested: 2,
		ItemIDs: []string{"r3", ""}, Policy: credit.Partial, ChargeAtAcceptance: true, Dedup: true})

	ttl := func(job string) time.Duration {
		t.Helper()
		d, err := h.Client.PTTL(ctx, h.Prefix+":{a:"+a+"}:res:"+job).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ttl("open"); d != -1 {
		t.Errorf("an open reservation has TTL %s, want none", d)
	}
	for _, job := range []string{"settled", "dedup", "voided", "accepted"} {
		if d := ttl(job); d <= ledger.DefaultRetainEnded-time.Hour || d > ledger.DefaultRetainEnded {
			t.Errorf("reservation %s has TTL %s, want %s", job, d, ledger.DefaultRetainEnded)
		}
	}
	if charged, err := h.L.ChargedRecords(ctx, a, "people"); err != nil || charged != 3 {
		t.Errorf("charged records %d, %v; want 3 (r1, r2, r3)", charged, err)
	}
	h.CheckInvariants(t, a)
}

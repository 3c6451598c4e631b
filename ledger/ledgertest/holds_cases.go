package ledgertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// overageJob reserves need credits under the overage policy and settles them
// all, returning the settled reservation.
func overageJob(t *testing.T, h *Harness, a, job string, need int64) credit.Reservation {
	t.Helper()
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: job, Requested: need, Policy: credit.Overage})
	return h.MustSettle(t, a, "people", job, need)
}

func testHolds(t *testing.T, h *Harness) {
	a := h.Account("hold")
	h.Open(t, a, poolCfg("people", 10, 100))
	r1 := overageJob(t, h, a, "o1", 15) // 10 prepaid, 5 overage
	r2 := overageJob(t, h, a, "o2", 7)  // 7 overage
	if p := h.MustPool(t, a, "people"); p.OverageOutstanding != 12 {
		t.Fatalf("outstanding %d", p.OverageOutstanding)
	}

	h.Clock.Advance(time.Hour)
	paid, err := h.L.PayHold(ctx, r1.HoldID, "inv_123")
	if err != nil || paid.Status != credit.HoldPaid || paid.PaymentRef != "inv_123" || !paid.PaidAt.Equal(h.Clock.Now()) {
		t.Fatalf("pay: %+v, %v", paid, err)
	}
	if p := h.MustPool(t, a, "people"); p.OverageOutstanding != 7 {
		t.Fatalf("outstanding after pay %d", p.OverageOutstanding)
	}
	// Paying again answers the same hold and keeps the first reference.
	snap := h.Snapshot(t)
	h.Clock.Advance(time.Hour)
	again, err := h.L.PayHold(ctx, r1.HoldID, "inv_999")
	if err != nil || !cmp.Equal(paid, again) {
		t.Fatalf("pay again: %+v, %v", again, err)
	}
	// A paid hold cannot be waived.
	if _, err := h.L.WaiveHold(ctx, r1.HoldID, "goodwill"); !errors.Is(err, credit.ErrHoldConflict) {
		t.Fatalf("waive paid: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("repeated pay changed Redis:\n%s", cmp.Diff(snap, after))
	}

	waived, err := h.L.WaiveHold(ctx, r2.HoldID, "goodwill")
	if err != nil || waived.Status != credit.HoldWaived || waived.WaiveReason != "goodwill" {
		t.Fatalf("waive: %+v, %v", waived, err)
	}
	if again, err := h.L.WaiveHold(ctx, r2.HoldID, "other"); err != nil || !cmp.Equal(waived, again) {
		t.Fatalf("waive again: %+v, %v", again, err)
	}
	if _, err := h.L.PayHold(ctx, r2.HoldID, "inv_1"); !errors.Is(err, credit.ErrHoldConflict) {
		t.Fatalf("pay waived: %v", err)
	}
	if p := h.MustPool(t, a, "people"); p.OverageOutstanding != 0 {
		t.Fatalf("outstanding after waive %d", p.OverageOutstanding)
	}
	for _, id := range []string{"hold_nope", "bad:id"} {
		if _, err := h.L.PayHold(ctx, id, "x"); !errors.Is(err, credit.ErrHoldNotFound) && !errors.Is(err, credit.ErrInvalidID) {
			t.Fatalf("pay %s: %v", id, err)
		}
	}
	// Journal entries for pay and waive.
	entries, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var types []credit.EntryType
	for _, e := range entries {
		if e.Type == credit.EntryHoldPaid || e.Type == credit.EntryHoldWaived {
			types = append(types, e.Type)
			if e.HoldID == "" || e.Amount <= 0 {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if !cmp.Equal(types, []credit.EntryType{credit.EntryHoldPaid, credit.EntryHoldWaived}) {
		t.Fatalf("hold entries %v", types)
	}
	h.CheckInvariants(t, a)
}

func testListHolds(t *testing.T, h *Harness) {
	a, b := h.Account("la"), h.Account("lb")
	h.Open(t, a, poolCfg("people", 0, 1000))
	h.Open(t, b, poolCfg("people", 0, 1000))
	var ids []string
	for i := range 5 {
		h.Clock.Advance(time.Minute)
		acct := a
		if i%2 == 1 {
			acct = b
		}
		r := overageJob(t, h, acct, fmt.Sprintf("job%d", i), int64(i+1))
		ids = append(ids, r.HoldID)
	}
	if _, err := h.L.PayHold(ctx, ids[0], "inv"); err != nil {
		t.Fatal(err)
	}
	list := func(f ledger.HoldFilter) ledger.HoldPage {
		t.Helper()
		p, err := h.L.ListHolds(ctx, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		return p
	}
	holdIDs := func(hs []credit.Hold) []string {
		out := []string{}
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	// Newest first, all accounts, pages of 2; totals cover every page.
	p1 := list(ledger.HoldFilter{Limit: 2})
	p2 := list(ledger.HoldFilter{Limit: 2, Cursor: p1.NextCursor})
	p3 := list(ledger.HoldFilter{Limit: 2, Cursor: p2.NextCursor})
	got := append(append(holdIDs(p1.Holds), holdIDs(p2.Holds)...), holdIDs(p3.Holds)...)
	if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; !cmp.Equal(got, want) || p3.NextCursor != "" {
		t.Fatalf("pages %v (next %q), want %v", got, p3.NextCursor, want)
	}
	// due = credits * 10 cents: (1+2+3+4+5)*10
	if p1.TotalDueCents != 150 || p3.TotalDueCents != 150 {
		t.Fatalf("total due %d", p1.TotalDueCents)
	}
	unpaid := list(ledger.HoldFilter{Status: credit.HoldUnpaid})
	if !cmp.Equal(holdIDs(unpaid.Holds), []string{ids[4], ids[3], ids[2], ids[1]}) || unpaid.TotalDueCents != 140 {
		t.Fatalf("unpaid %v %d", holdIDs(unpaid.Holds), unpaid.TotalDueCents)
	}
	ofB := list(ledger.HoldFilter{Account: b})
	if !cmp.Equal(holdIDs(ofB.Holds), []string{ids[3], ids[1]}) || ofB.TotalDueCents != 60 {
		t.Fatalf("of b %v", holdIDs(ofB.Holds))
	}
	paidOfA := list(ledger.HoldFilter{Account: a, Status: credit.HoldPaid})
	if !cmp.Equal(holdIDs(paidOfA.Holds), []string{ids[0]}) {
		t.Fatalf("paid of a %v", holdIDs(paidOfA.Holds))
	}
	if e := list(ledger.HoldFilter{Status: credit.HoldWaived}); len(e.Holds) != 0 || e.Holds == nil || e.TotalDueCents != 0 {
		t.Fatalf("waived %+v", e)
	}
	if _, err := h.L.ListHolds(ctx, ledger.HoldFilter{Cursor: "hold_nope"}); !errors.Is(err, credit.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}

	// The index heals: drop it and rebuild it from the accounts.
	for _, k := range []string{h.Prefix + ":holds", h.Prefix + ":holds:account"} {
		if err := h.Client.Del(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(list(ledger.HoldFilter{}).Holds); n != 0 {
		t.Fatalf("after dropping the index: %d holds", n)
	}
	if err := h.L.ReindexHolds(ctx); err != nil {
		t.Fatal(err)
	}
	if got := holdIDs(list(ledger.HoldFilter{}).Holds); !cmp.Equal(got, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("after reindex %v", got)
	}
	h.CheckInvariants(t, a, b)
}

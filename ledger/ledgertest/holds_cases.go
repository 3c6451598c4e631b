package ledgertest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

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
	// due = credits * 10 cents over the unpaid holds only: (2+3+4+5)*10;
	// the paid one owes nothing.
	if p1.TotalDueCents != 140 || p3.TotalDueCents != 140 {
		t.Fatalf("total due %d", p1.TotalDueCents)
	}
	unpaid := list(ledger.HoldFilter{Status: credit.HoldUnpaid})
	if !cmp.Equal(holdIDs(unpaid.Holds), []string{ids[4], ids[3], ids[2], ids[1]}) || unpaid.TotalDueCents != 140 {
		t.Fatalf("unpaid %v %d", holdIDs(unpaid.Holds), unpaid.TotalDueCents)
	}
	ofB := list(ledger.HoldFilter{Account: b})
	if paid := list(ledger.HoldFilter{Status: credit.HoldPaid}); len(paid.Holds) != 1 || paid.TotalDueCents != 0 {
		t.Fatalf("paid: %d holds, total due %d; want 1 and 0", len(paid.Holds), paid.TotalDueCents)
	}
	if !cmp.Equal(holdIDs(ofB.Holds), []string{ids[3], ids[1]}) || ofB.TotalDueCents != 60 {
		t.Fatalf("of b %v", holdIDs(ofB.Holds))
	}
	paidOfA := list(ledger.HoldFilter{Account: a, Status: credit.HoldPaid})
	if !cmp.Equal(holdIDs(paidOfA.Holds), []string{ids[0]}) || paidOfA.TotalDueCents != 0 {
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

// testRecentHolds opens holds before and after a cut-off, more of them after
// than one page of RecentHolds holds, and walks those after it, oldest first.
func testRecentHolds(t *testing.T, h *Harness, scale int) {
	a, b := h.Account("ra"), h.Account("rb")
	h.Open(t, a, poolCfg("people", 0, 1_000_000))
	h.Open(t, b, poolCfg("people", 0, 1_000_000))
	for i := range 20 {
		overageJob(t, h, a, fmt.Sprintf("old%d", i), 1)
	}
	h.Clock.Advance(time.Hour)
	since := h.Clock.Now()
	var want []string
	for i := range 1040 / scale {
		acct := a
		if i%2 == 1 {
			acct = b
		}
		want = append(want, overageJob(t, h, acct, fmt.Sprintf("new%d", i), 1).HoldID)
		h.Clock.Advance(time.Millisecond)
	}
	if _, err := h.L.PayHold(ctx, want[3], "inv_3"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for hold, err := range h.L.RecentHolds(ctx, since) {
		if err != nil {
			t.Fatal(err)
		}
		if wantStatus := map[bool]credit.HoldStatus{true: credit.HoldPaid, false: credit.HoldUnpaid}[hold.ID == want[3]]; hold.Status != wantStatus {
			t.Errorf("%s has status %s, want %s", hold.ID, hold.Status, wantStatus)
		}
		got = append(got, hold.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("recent holds (-want +got):\n%s", diff)
	}
	n := 0
	for _, err := range h.L.RecentHolds(ctx, since) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("an early break after 2 yielded %d", n)
	}
	for hold, err := range h.L.RecentHolds(ctx, h.Clock.Now().Add(time.Hour)) {
		t.Fatalf("a hold from the future: %+v, %v", hold, err)
	}
	h.CheckInvariants(t, a, b)
}

// testHoldStatusIndex follows holds through the indexes by status that
// ListHolds reads across accounts: a hold moves when it is paid or waived,
// an entry that lags never shows it under the wrong status, and
// ReindexHolds puts it where it belongs.
func testHoldStatusIndex(t *testing.T, h *Harness) {
	a, b := h.Account("sa"), h.Account("sb")
	h.Open(t, a, poolCfg("people", 0, 1000))
	h.Open(t, b, poolCfg("people", 0, 1000))
	var ids []string
	for i := range 6 {
		h.Clock.Advance(time.Minute)
		acct := []string{a, b}[i%2]
		ids = append(ids, overageJob(t, h, acct, fmt.Sprintf("sj%d", i), int64(i+1)).HoldID)
	}
	if _, err := h.L.PayHold(ctx, ids[0], "inv_0"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.L.WaiveHold(ctx, ids[1], "goodwill"); err != nil {
		t.Fatal(err)
	}
	index := func(status credit.HoldStatus) []string {
		t.Helper()
		got, err := h.Client.ZRange(ctx, h.Prefix+":holds:"+string(status), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	listed := func(status credit.HoldStatus) ([]string, int64) {
		t.Helper()
		p, err := h.L.ListHolds(ctx, ledger.HoldFilter{Status: status, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, hold := range p.Holds {
			if hold.Status != status {
				t.Errorf("%s listed as %s is %s", hold.ID, status, hold.Status)
			}
			got = append(got, hold.ID)
		}
		return got, p.TotalDueCents
	}
	check := func(when string) {
		t.Helper()
		for status, want := range map[credit.HoldStatus][]string{
			credit.HoldUnpaid: {ids[2], ids[3], ids[4], ids[5]},
			credit.HoldPaid:   {ids[0]},
			credit.HoldWaived: {ids[1]},
		} {
			if diff := cmp.Diff(want, index(status)); diff != "" {
				t.Errorf("%s: the %s index (-want +got):\n%s", when, status, diff)
			}
			got, due := listed(status)
			if diff := cmp.Diff(sortStrings(want), sortStrings(got)); diff != "" {
				t.Errorf("%s: listed %s (-want +got):\n%s", when, status, diff)
			}
			var wantDue int64
			for _, id := range want {
				hold, err := h.L.Hold(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if hold.Status == credit.HoldUnpaid { // due means unpaid
					wantDue += hold.AmountDueCents
				}
			}
			if due != wantDue {
				t.Errorf("%s: total due of %s %d, want %d", when, status, due, wantDue)
			}
		}
	}
	check("after pay and waive")

	// A crash between closing a hold and moving it: ids[2] is paid, yet
	// still indexed unpaid.
	snap := h.Client.ZRange(ctx, h.Prefix+":holds:unpaid", 0, -1).Val()
	if _, err := h.L.PayHold(ctx, ids[2], "inv_2"); err != nil {
		t.Fatal(err)
	}
	z := h.Client.ZScore(ctx, h.Prefix+":holds", ids[2]).Val()
	h.Client.ZRem(ctx, h.Prefix+":holds:paid", ids[2])
	h.Client.ZAdd(ctx, h.Prefix+":holds:unpaid", redis.Z{Score: z, Member: ids[2]})
	if got := h.Client.ZRange(ctx, h.Prefix+":holds:unpaid", 0, -1).Val(); !cmp.Equal(got, snap) {
		t.Fatalf("the simulated lag: unpaid index %v, want %v", got, snap)
	}
	if got, _ := listed(credit.HoldUnpaid); slices.Contains(got, ids[2]) {
		t.Errorf("a paid hold whose entry lags is listed unpaid: %v", got)
	}
	// Listing by status reads that status's index: until the reindex, the
	// lagging hold is not among the paid ones.
	if got, _ := listed(credit.HoldPaid); slices.Contains(got, ids[2]) {
		t.Errorf("listed paid %v before the reindex: the listing did not read the paid index", got)
	}
	if err := h.L.ReindexHolds(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[credit.HoldStatus][]string{credit.HoldUnpaid: {ids[3], ids[4], ids[5]}, credit.HoldPaid: {ids[0], ids[2]}}
	for status, w := range want {
		if got, _ := listed(status); !cmp.Equal(sortStrings(got), sortStrings(w)) {
			t.Errorf("after reindex: listed %s %v, want %v", status, got, w)
		}
		if got := index(status); !cmp.Equal(sortStrings(got), sortStrings(w)) {
			t.Errorf("after reindex: the %s index %v, want %v", status, got, w)
		}
	}
	h.CheckInvariants(t, a, b)
}

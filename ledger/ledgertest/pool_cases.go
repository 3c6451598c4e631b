package ledgertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

func testTopUpAdjust(t *testing.T, h *Harness) {
	a := h.Account("top")
	h.Open(t, a, poolCfg("people", 100, 0))
	p, err := h.L.TopUp(ctx, a, "people", 500, "top-up", "")
	if err != nil || p.Allocated != 600 {
		t.Fatalf("top-up: %+v, %v", p.Counts, err)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 550, Policy: credit.Reject})
	if p, err = h.L.Adjust(ctx, a, "people", -30, "correction", ""); err != nil || p.Allocated != 570 || p.Available() != 20 {
		t.Fatalf("adjust: %+v, %v", p.Counts, err)
	}
	// Taking more than is available is refused and changes nothing.
	snap := h.Snapshot(t)
	_, err = h.L.Adjust(ctx, a, "people", -21, "too much", "")
	if ie, ok := errors.AsType[*credit.InsufficientError](err); !ok || ie.Required != 21 || ie.Available != 20 || ie.Pool != "people" {
		t.Fatalf("adjust beyond available: %v", err)
	}
	for _, n := range []int64{0, -5} {
		if _, err := h.L.TopUp(ctx, a, "people", n, "", ""); !errors.Is(err, credit.ErrInvalidAmount) {
			t.Fatalf("top-up %d: %v", n, err)
		}
	}
	if _, err := h.L.Adjust(ctx, a, "people", 0, "", ""); !errors.Is(err, credit.ErrInvalidAmount) {
		t.Fatalf("adjust 0: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("refused adjustments changed Redis:\n%s", cmp.Diff(snap, after))
	}
	entries, _, err := h.L.Journal(ctx, a, ledger.JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, string(e.Type)+":"+e.Reason)
	}
	if want := []string{"grant:", "topup:top-up", "reserve:", "adjust:correction"}; !cmp.Equal(got, want) {
		t.Fatalf("journal %v, want %v", got, want)
	}
	h.CheckInvariants(t, a)
}

func testRefresh(t *testing.T, h *Harness) {
	a := h.Account("ref")
	h.Open(t, a, poolCfg("people", 100, 50))
	p0 := h.MustPool(t, a, "people")
	_, _ = h.L.TopUp(ctx, a, "people", 40, "", "")
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "done", Requested: 60, Policy: credit.Reject})
	h.MustSettle(t, a, "people", "done", 60)
	// In flight across the boundary: 30 prepaid, 0 overage.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "inflight", Requested: 30, Policy: credit.Reject})
	// Overage debt from before the boundary.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "over", Requested: 60, Policy: credit.Overage})
	h.MustSettle(t, a, "people", "over", 60) // 50 prepaid, 10 overage

	start, end := p0.PeriodEnd, p0.PeriodEnd.AddDate(0, 1, 0)
	h.Clock.Advance(start.Sub(h.Clock.Now()) + time.Second)
	p, applied, err := h.L.Refresh(ctx, a, "people", start, end)
	if err != nil || !applied {
		t.Fatalf("refresh: %v, applied %v", err, applied)
	}
	// What the job in flight holds of the ended period is carried apart.
	want := credit.Counts{Allocated: 100, Used: 0, Carried: 30, OverageOutstanding: 10}
	if p.Counts != want || !p.PeriodStart.Equal(start) || !p.PeriodEnd.Equal(end) {
		t.Fatalf("after refresh %+v, want %+v", p.Balance, want)
	}
	// Again, and for an older period: nothing changes.
	snap := h.Snapshot(t)
	for _, s := range []time.Time{start, p0.PeriodStart} {
		if _, applied, err := h.L.Refresh(ctx, a, "people", s, s.AddDate(0, 1, 0)); err != nil || applied {
			t.Fatalf("refresh %s again: applied %v, %v", s, applied, err)
		}
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a repeated refresh changed Redis:\n%s", cmp.Diff(snap, after))
	}
	// The reservation from the last period settles in the new one: it
	// spends what it carried, and what it gives back is forfeited.
	r := h.MustSettle(t, a, "people", "inflight", 20)
	if r.TotalCost != 20 || r.Released != 10 {
		t.Fatalf("settle inflight %+v", r)
	}
	if p := h.MustPool(t, a, "people"); p.Counts != (credit.Counts{Allocated: 100, Used: 0, OverageOutstanding: 10}) {
		t.Fatalf("after settling across the boundary %+v", p.Counts)
	}

	// No rollover through a reservation: a grant of 10 topped up by 90, 80
	// reserved just before the boundary, then canceled after it, leaves the
	// new period its grant of 10 and nothing more.
	b := h.Account("ref")
	h.Open(t, b, poolCfg("people", 10, 0))
	_, _ = h.L.TopUp(ctx, b, "people", 90, "", "")
	h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "people", JobID: "big", Requested: 80, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "people", JobID: "small", Requested: 5, Policy: credit.Reject})
	pb := h.MustPool(t, b, "people")
	p, _, err = h.L.Refresh(ctx, b, "people", pb.PeriodEnd, pb.PeriodEnd.AddDate(0, 1, 0))
	if err != nil || p.Counts != (credit.Counts{Allocated: 10, Carried: 85}) || p.Available() != 10 {
		t.Fatalf("refresh under a large reservation: %+v, %v", p.Counts, err)
	}
	if _, err := h.L.Void(ctx, b, "people", "big", "canceled"); err != nil {
		t.Fatal(err)
	}
	h.MustSettle(t, b, "people", "small", 5)
	if p := h.MustPool(t, b, "people"); p.Counts != (credit.Counts{Allocated: 10}) || p.Available() != 10 {
		t.Fatalf("after the cancel across the boundary: %+v (available %d), want the grant of 10 only", p.Counts, p.Available())
	}

	if _, _, err := h.L.Refresh(ctx, a, "nope", start, end); !errors.Is(err, credit.ErrUnknownPool) {
		t.Fatalf("unknown pool: %v", err)
	}
	if _, _, err := h.L.Refresh(ctx, "nobody", "people", start, end); !errors.Is(err, credit.ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
	h.CheckInvariants(t, a, b)
}

func testJournal(t *testing.T, h *Harness) {
	a := h.Account("jr")
	h.Open(t, a, poolCfg("people", 100, 0))
	h.Open(t, a, poolCfg("export", 100, 0))
	for i := range 7 {
		pool := "people"
		if i%2 == 1 {
			pool = "export"
		}
		_, _ = h.L.TopUp(ctx, a, pool, int64(i+1), "", "")
	}
	all, err := h.L.JournalAll(ctx, a)
	if err != nil || len(all) != 9 {
		t.Fatalf("journal: %d entries, %v", len(all), err)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || !e.At.Equal(h.Clock.Now()) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	// Pages of 2 over the people pool: grant, topup 1, 3, 5, 7.
	var amounts []int64
	cursor := ""
	for range 10 {
		page, next, err := h.L.Journal(ctx, a, ledger.JournalQuery{Pool: "people", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			amounts = append(amounts, e.Amount)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []int64{100, 1, 3, 5, 7}; !cmp.Equal(amounts, want) {
		t.Fatalf("people pages %v, want %v", amounts, want)
	}
	for _, bad := range []string{"x", "1-", "-1", "1-2-3", "99999999999999999999999-0", "0-18446744073709551616",
		"18446744073709551615-18446744073709551615", "01-0", "+1-0", "1-0 "} {
		if _, _, err := h.L.Journal(ctx, a, ledger.JournalQuery{Cursor: bad}); !errors.Is(err, credit.ErrInvalidCursor) {
			t.Fatalf("cursor %q: %v", bad, err)
		}
	}
	if page, next, err := h.L.Journal(ctx, h.Account("none"), ledger.JournalQuery{}); err != nil || len(page) != 0 || page == nil || next != "" {
		t.Fatalf("empty journal: %v %q %v", page, next, err)
	}
	h.CheckInvariants(t, a)
}

func testReservationsOlderThan(t *testing.T, h *Harness) {
	a, b := h.Account("old"), h.Account("old")
	h.Open(t, a, poolCfg("people", 100, 0))
	h.Open(t, b, poolCfg("people", 100, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "old1", Requested: 1, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "people", JobID: "old2", Requested: 1, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "people", JobID: "old-settled", Requested: 1, Policy: credit.Reject})
	h.MustSettle(t, b, "people", "old-settled", 1)
	h.Clock.Advance(10 * time.Minute)
	cutoff := h.Clock.Now()
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "new", Requested: 1, Policy: credit.Reject})

	got, err := h.L.ReservationsOlderThan(ctx, cutoff, 100)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, r := range got {
		jobs = append(jobs, r.Account+"/"+r.JobID)
	}
	want := []string{a + "/old1", b + "/old2"}
	if !cmp.Equal(sortStrings(jobs), sortStrings(want)) {
		t.Fatalf("old reservations %v, want %v", jobs, want)
	}
	if got, _ := h.L.ReservationsOlderThan(ctx, cutoff, 1); len(got) != 1 {
		t.Fatalf("limit 1: %d", len(got))
	}
	if _, err := h.L.Void(ctx, a, "people", "old1", "reaped"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.L.ReservationsOlderThan(ctx, cutoff, 100); len(got) != 1 || got[0].JobID != "old2" {
		t.Fatalf("after void: %+v", got)
	}
	h.CheckInvariants(t, a, b)
}

// testOldReservationsPages walks more accounts than one page of
// OldReservations holds, each stranded reservation among healthy ones, and
// finds every one of them.
func testOldReservationsPages(t *testing.T, h *Harness, scale int) {
	n := 1300 / scale
	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = h.Account(fmt.Sprintf("page%d", i))
	}
	var want []string
	var g errgroup.Group
	g.SetLimit(16)
	start, end := h.Period()
	for i, a := range accounts {
		if i%40 == 0 {
			want = append(want, a+"/stranded")
		}
		g.Go(func() error {
			if _, _, err := h.L.OpenPool(ctx, a, poolCfg("people", 100, 0), start, end); err != nil {
				return err
			}
			if i%40 == 0 {
				if _, err := h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "stranded", Requested: 1, Policy: credit.Reject}); err != nil {
					return err
				}
			}
			if i%7 == 0 {
				if _, err := h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "done", Requested: 2, Policy: credit.Reject}); err != nil {
					return err
				}
				_, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "done", Cost: 1})
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Hour)
	cutoff := h.Clock.Now()
	h.MustReserve(t, credit.ReserveRequest{Account: accounts[0], Pool: "people", JobID: "fresh", Requested: 1, Policy: credit.Reject})

	seen := map[string]bool{}
	for r, err := range h.L.OldReservations(ctx, cutoff) {
		if err != nil {
			t.Fatal(err)
		}
		if r.State != credit.Reserved || r.Requested != 1 {
			t.Fatalf("yielded %+v", r)
		}
		seen[r.Account+"/"+r.JobID] = true
	}
	got := make([]string, 0, len(seen))
	for k := range seen {
		got = append(got, k)
	}
	if !cmp.Equal(sortStrings(got), sortStrings(want)) {
		t.Fatalf("old reservations: %d found, %d stranded; diff %s", len(got), len(want), cmp.Diff(sortStrings(want), sortStrings(got)))
	}

	// A caller that stops early stops the walk.
	stopped := 0
	for _, err := range h.L.OldReservations(ctx, cutoff) {
		if err != nil {
			t.Fatal(err)
		}
		stopped++
		break
	}
	if stopped != 1 {
		t.Fatalf("an early break yielded %d", stopped)
	}
	h.CheckInvariants(t, accounts[:3]...)
}

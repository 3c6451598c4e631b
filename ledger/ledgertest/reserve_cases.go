package ledgertest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger/credit"
)

func poolCfg(name string, grant, limit int64) credit.PoolConfig {
	return credit.PoolConfig{Name: name, Grant: grant, OverageEnabled: limit > 0, OverageLimit: limit, OveragePriceCents: 10}
}

func testOpenPool(t *testing.T, h *Harness) {
	a := h.Account("acme")
	start, end := h.Period()
	p, created, err := h.L.OpenPool(ctx, a, poolCfg("people", 1000, 100), start, end)
	if err != nil || !created {
		t.Fatalf("open: created %v, err %v", created, err)
	}
	want := credit.Counts{Allocated: 1000}
	if p.Counts != want || p.Available() != 1000 || !p.PeriodStart.Equal(start) || !p.PeriodEnd.Equal(end) {
		t.Fatalf("opened pool %+v", p)
	}
	// Opening again changes nothing, not even with another grant.
	before := h.Snapshot(t)
	p2, created, err := h.L.OpenPool(ctx, a, poolCfg("people", 5, 0), start, end)
	if err != nil || created || p2.Grant != 1000 {
		t.Fatalf("reopen: created %v, grant %d, err %v", created, p2.Grant, err)
	}
	if after := h.Snapshot(t); after != before {
		t.Fatalf("reopen changed Redis:\n%s", cmp.Diff(before, after))
	}
	h.Open(t, a, poolCfg("export", 50, 0))
	pools, err := h.L.Pools(ctx, a)
	if err != nil || len(pools) != 2 || pools[0].Name != "export" || pools[1].Name != "people" {
		t.Fatalf("pools %+v, %v", pools, err)
	}
	accounts, err := h.L.Accounts(ctx)
	if err != nil || !cmp.Equal(accounts, []string{a}) {
		t.Fatalf("accounts %v, %v", accounts, err)
	}
	h.CheckInvariants(t, a)
}

// testPolicyTable runs every shortfall policy against every situation, and
// checks the script against the Go policy math and against numbers by hand.
func testPolicyTable(t *testing.T, h *Harness) {
	type want struct {
		prepaid, overage int64
		// required and available of the 402, when refused
		required, available int64
	}
	situations := []struct {
		name                     string
		limit, pre, need         int64
		reject, partial, overage want
	}{
		{name: "enough", limit: 50, pre: 0, need: 30,
			reject: want{prepaid: 30}, partial: want{prepaid: 30}, overage: want{prepaid: 30}},
		{name: "short", limit: 50, pre: 60, need: 70,
			reject: want{required: 70, available: 40}, partial: want{prepaid: 40}, overage: want{prepaid: 40, overage: 30}},
		{name: "zero", limit: 50, pre: 100, need: 10,
			reject: want{required: 10, available: 0}, partial: want{required: 10, available: 0}, overage: want{overage: 10}},
		{name: "overage within the limit", limit: 50, pre: 0, need: 150,
			reject: want{required: 150, available: 100}, partial: want{prepaid: 100}, overage: want{prepaid: 100, overage: 50}},
		{name: "overage beyond the limit", limit: 50, pre: 0, need: 151,
			reject: want{required: 151, available: 100}, partial: want{prepaid: 100}, overage: want{required: 151, available: 150}},
	}
	for _, s := range situations {
		for _, policy := range []credit.Policy{credit.Reject, credit.Partial, credit.Overage} {
			w := map[credit.Policy]want{credit.Reject: s.reject, credit.Partial: s.partial, credit.Overage: s.overage}[policy]
			t.Run(fmt.Sprintf("%s/%s", s.name, policy), func(t *testing.T) {
				a := h.Account("pol")
				h.Open(t, a, poolCfg("people", 100, s.limit))
				if s.pre > 0 {
					h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "pre", Requested: s.pre, Policy: credit.Reject})
				}
				before := h.MustPool(t, a, "people")
				// The Go policy math must agree with the table.
				pp, op, gerr := credit.Split(policy, s.need, before.Available(), before.Headroom())
				if w.required > 0 {
					ie, ok := errors.AsType[*credit.InsufficientError](gerr)
					if !ok || ie.Required != w.required || ie.Available != w.available {
						t.Fatalf("credit.Split: %v, want 402 %d/%d", gerr, w.required, w.available)
					}
				} else if gerr != nil || pp != w.prepaid || op != w.overage {
					t.Fatalf("credit.Split = %d, %d, %v; want %d, %d", pp, op, gerr, w.prepaid, w.overage)
				}

				snap := h.Snapshot(t)
				r, err := h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "job", Requested: s.need, Policy: policy})
				if w.required > 0 {
					ie, ok := errors.AsType[*credit.InsufficientError](err)
					if !ok {
						t.Fatalf("reserve: %v, want *InsufficientError", err)
					}
					wantErr := &credit.InsufficientError{Pool: "people", Required: w.required, Available: w.available}
					if diff := cmp.Diff(wantErr, ie); diff != "" {
						t.Fatalf("402 (-want +got):\n%s", diff)
					}
					if got := ie.Error(); got != fmt.Sprintf("Not enough credits. Required: %d, Available: %d", w.required, w.available) {
						t.Fatalf("message %q", got)
					}
					if after := h.Snapshot(t); after != snap {
						t.Fatalf("a refused reserve changed Redis:\n%s", cmp.Diff(snap, after))
					}
					h.CheckInvariants(t, a)
					return
				}
				if err != nil {
					t.Fatalf("reserve: %v", err)
				}
				after := h.MustPool(t, a, "people")
				got := want{prepaid: r.Prepaid, overage: r.Overage}
				if got != w {
					t.Fatalf("reserved %+v, want %+v", got, w)
				}
				if r.Requested != s.need || r.Processed != w.prepaid+w.overage || r.Partial() != (r.Processed < s.need) {
					t.Fatalf("meta: requested %d processed %d partial %v", r.Requested, r.Processed, r.Partial())
				}
				if r.Remaining != after.Available() || after.Available() != before.Available()-w.prepaid {
					t.Fatalf("remaining %d, pool available %d -> %d", r.Remaining, before.Available(), after.Available())
				}
				if after.Reserved != before.Reserved+w.prepaid || after.OverageReserved != before.OverageReserved+w.overage {
					t.Fatalf("pool after %+v", after.Counts)
				}
				h.CheckInvariants(t, a)
			})
		}
	}
	t.Run("overage on a pool without overage", func(t *testing.T) {
		a := h.Account("pol")
		h.Open(t, a, poolCfg("people", 100, 0))
		snap := h.Snapshot(t)
		_, err := h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 500, Policy: credit.Overage})
		if !errors.Is(err, credit.ErrOverageDisabled) {
			t.Fatalf("got %v, want ErrOverageDisabled", err)
		}
		if after := h.Snapshot(t); after != snap {
			t.Fatal("a refused reserve changed Redis")
		}
	})
}

func testEnrichmentItems(t *testing.T, h *Harness) {
	a := h.Account("enr")
	h.Open(t, a, poolCfg("businesses", 3, 0))
	// A partial enrichment of 10 items with 3 credits keeps the first 3.
	ids := []string{"", "", "", "", "", "", "", "", "", ""}
	r := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "businesses", JobID: "e1", Requested: 10, ItemIDs: ids, Policy: credit.Partial})
	wantKept := []bool{true, true, true, false, false, false, false, false, false, false}
	if r.Requested != 10 || r.Processed != 3 || r.Prepaid != 3 || r.Remaining != 0 || !r.Partial() || !cmp.Equal(r.Kept, wantKept) {
		t.Fatalf("partial enrichment: %+v", r)
	}
	// The same through the Go math.
	if it := credit.ChooseItems(ids, false, nil, 3); !cmp.Equal(it.Kept, wantKept) || it.Processed != 3 {
		t.Fatalf("credit.ChooseItems: %+v", it)
	}
	h.MustSettle(t, a, "businesses", "e1", 3)

	// With dedup: ids charged before and ids repeated in the request are free.
	b := h.Account("enr")
	h.Open(t, b, poolCfg("businesses", 4, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "businesses", JobID: "d1", Requested: 2, ItemIDs: []string{"r1", "r2"}, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: b, Pool: "businesses", JobID: "d1", Cost: 2, RecordIDs: []string{"r1", "r2"}}); err != nil {
		t.Fatal(err)
	}
	items := []string{"r1", "r3", "", "r3", "r4", "r2", "r5", "r6"}
	// chargeable: r3, "", r4, r5, r6 = 5; free: r1, r3 (repeat), r2 = 3; available 2.
	r2 := h.MustReserve(t, credit.ReserveRequest{Account: b, Pool: "businesses", JobID: "d2", Requested: 8, ItemIDs: items, Policy: credit.Partial, Dedup: true})
	charged := func(id string) bool { return id == "r1" || id == "r2" }
	want := credit.ChooseItems(items, true, charged, 2)
	if r2.Skipped != 3 || r2.Needed() != 5 || r2.Prepaid != 2 || r2.Processed != want.Processed || !cmp.Equal(r2.Kept, want.Kept) {
		t.Fatalf("dedup partial: %+v, want %+v", r2, want)
	}
	// kept: r1 (free), r3, "" (the 2 credits), r3 again (free: its first was kept), r2 (free)
	if !cmp.Equal(r2.Kept, []bool{true, true, true, true, false, true, false, false}) {
		t.Fatalf("kept %v", r2.Kept)
	}
	// All items free: nothing to reserve, even with nothing available.
	c := h.Account("enr")
	h.Open(t, c, poolCfg("businesses", 1, 0))
	h.MustReserve(t, credit.ReserveRequest{Account: c, Pool: "businesses", JobID: "x1", Requested: 1, ItemIDs: []string{"r1"}, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: c, Pool: "businesses", JobID: "x1", Cost: 1, RecordIDs: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	free := h.MustReserve(t, credit.ReserveRequest{Account: c, Pool: "businesses", JobID: "x2", Requested: 2, ItemIDs: []string{"r1", "r1"}, Policy: credit.Reject, Dedup: true})
	if free.Reserved() != 0 || free.Processed != 2 || free.Skipped != 2 || free.Partial() {
		t.Fatalf("all free: %+v", free)
	}
	if s := h.MustSettle(t, c, "businesses", "x2", 0); s.TotalCost != 0 || s.State != credit.Settled {
		t.Fatalf("settle free: %+v", s)
	}
	h.CheckInvariants(t, a, b, c)
}

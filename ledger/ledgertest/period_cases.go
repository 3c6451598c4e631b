package ledgertest

import (
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

// PeriodPlans is a plans file of three plans on three pools, refreshed
// monthly, yearly and every 168 hours: the periods the ledger suite and the
// scheduler's tests live through.
const PeriodPlans = `
plans:
  monthly:
    pool: people
    data_types: [people]
    operations: [search]
    credits: 100
    refresh: "@monthly"
  yearly:
    pool: properties
    data_types: [properties]
    operations: [search]
    credits: 1000
    refresh: "@yearly"
  weekly:
    pool: products
    data_types: [products]
    operations: [search]
    credits: 10
    refresh: "@every 168h"
`

// testPlanPeriods opens pools from plans with monthly, yearly and @every
// schedules, lives a year of boundaries through a fake clock, and refreshes
// each boundary from three "schedulers", late ones included: each period is
// refreshed exactly once, used resets, allocated is the grant again, and a
// reservation made before a boundary settles after it.
func testPlanPeriods(t *testing.T, h *Harness) {
	catalog, err := plan.Parse([]byte(PeriodPlans))
	if err != nil {
		t.Fatal(err)
	}
	a := h.Account("year")
	created := h.Clock.Now().Add(17*24*time.Hour + 5*time.Hour) // mid-month, mid-day
	h.Clock.Advance(created.Sub(h.Clock.Now()))
	plans := map[string]plan.Plan{}
	for _, id := range []string{"monthly", "yearly", "weekly"} {
		p, _ := catalog.Plan(id)
		plans[p.Pool] = p
		start, end := p.FirstPeriod(created)
		if !start.Equal(created) {
			t.Fatalf("%s: first period starts %s, account created %s", id, start, created)
		}
		if _, _, err := h.L.OpenPool(ctx, a, p.PoolConfig(), start, end); err != nil {
			t.Fatal(err)
		}
	}
	// Spend some of each pool, and keep one reservation in flight.
	for pool := range plans {
		h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: pool, JobID: pool + "-spent", Requested: 5, Policy: credit.Reject})
		h.MustSettle(t, a, pool, pool+"-spent", 5)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "inflight", Requested: 7, Policy: credit.Reject})

	periods := map[string]int{}
	end := created.AddDate(1, 0, 0).Add(time.Hour)
	for h.Clock.Now().Before(end) {
		h.Clock.Advance(6 * time.Hour)
		now := h.Clock.Now()
		for pool, p := range plans {
			cur := h.MustPool(t, a, pool)
			if now.Before(cur.PeriodEnd) {
				continue
			}
			start, stop := p.CurrentPeriod(cur.PeriodEnd, now)
			applied := 0
			for range 3 { // three schedulers see the same boundary
				got, ok, err := h.L.Refresh(ctx, a, pool, start, stop)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					applied++
					if got.Used != 0 || got.Allocated != max(p.Credits, got.Reserved) {
						t.Fatalf("%s after refresh: %+v", pool, got.Counts)
					}
				}
			}
			if applied != 1 {
				t.Fatalf("%s period %s applied %d times", pool, start, applied)
			}
			periods[pool]++
			if pool == "people" && periods[pool] == 1 {
				// The reservation from before the boundary settles in the new period.
				r := h.MustSettle(t, a, "people", "inflight", 3)
				if pp := h.MustPool(t, a, "people"); r.Released != 4 || pp.Used != 3 || pp.Available() != 97 {
					t.Fatalf("settled across the boundary: %+v, pool %+v", r, pp.Counts)
				}
			}
		}
	}
	// From the 18th of a month: 12 monthly boundaries in a year, 1 yearly,
	// and 52 weekly ones.
	if periods["people"] != 12 || periods["properties"] != 1 || periods["products"] != 52 {
		t.Fatalf("periods refreshed: %v", periods)
	}
	entries, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	refreshes := map[string]int{}
	for _, e := range entries {
		if e.Type == credit.EntryRefresh {
			refreshes[e.Pool]++
		}
	}
	for pool, n := range periods {
		if refreshes[pool] != n {
			t.Fatalf("%s: %d refresh entries for %d periods", pool, refreshes[pool], n)
		}
	}
	h.CheckInvariants(t, a)
}

package ledgertest

import (
	"fmt"
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
// schedules and lives a year of boundaries through a fake clock, with no
// sweep: each period starts at its boundary on the first read or change,
// exactly once (three late "schedulers" change nothing), used resets,
// allocated is the grant again, and a reservation made before a boundary
// settles after it from what it carried.
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

	// No sweep runs: every read and every change finds its pool's period
	// in force, the first after a boundary starting it. Products spend a
	// credit every other day through a reserve, which meets the boundary first;
	// the others are read first. Three "schedulers" then refresh each new
	// period late, and change nothing.
	periods := map[string]int{}
	starts := map[string]time.Time{}
	spent := map[string]int64{}
	for pool := range plans {
		starts[pool] = created
		spent[pool] = 5
	}
	end := created.AddDate(1, 0, 0).Add(time.Hour)
	step := 0
	for h.Clock.Now().Before(end) {
		h.Clock.Advance(6 * time.Hour)
		now := h.Clock.Now()
		step++
		for pool, p := range plans {
			spend := pool == "products" && step%8 == 0 // every other day
			if spend {
				job := fmt.Sprintf("step%d", step)
				h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: pool, JobID: job, Requested: 1, Policy: credit.Partial})
				h.MustSettle(t, a, pool, job, 1)
			}
			cur := h.MustPool(t, a, pool)
			if now.Before(cur.PeriodStart) || !now.Before(cur.PeriodEnd) {
				t.Fatalf("%s at %s: the pool is in its period %s to %s", pool, now, cur.PeriodStart, cur.PeriodEnd)
			}
			if !cur.PeriodStart.Equal(starts[pool]) {
				periods[pool]++
				starts[pool] = cur.PeriodStart
				spent[pool] = 0
				for range 3 {
					if _, ok, err := h.L.Refresh(ctx, a, pool, cur.PeriodStart, cur.PeriodEnd); err != nil || ok {
						t.Fatalf("%s: a late refresh of period %s applied %v (%v)", pool, cur.PeriodStart, ok, err)
					}
				}
				if pool == "people" && periods[pool] == 1 {
					// The reservation from before the boundary settles in
					// the new period, from what it carried; the rest is
					// forfeited.
					r := h.MustSettle(t, a, "people", "inflight", 3)
					if pp := h.MustPool(t, a, "people"); r.Released != 4 || pp.Used != 0 || pp.Carried != 0 || pp.Available() != 100 {
						t.Fatalf("settled across the boundary: %+v, pool %+v", r, pp.Counts)
					}
				}
			}
			if spend {
				spent[pool]++
			}
			if cur = h.MustPool(t, a, pool); cur.Used != spent[pool] || cur.Allocated != p.Credits {
				t.Fatalf("%s at %s: used %d of %d, want %d of %d", pool, now, cur.Used, cur.Allocated, spent[pool], p.Credits)
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

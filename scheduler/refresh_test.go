package scheduler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
)

var ctx = context.Background()

// env is one case: a key prefix, a fake clock, the catalog, and a ledger,
// account store and Refresher per "scheduler", each on its own client.
type env struct {
	t          *testing.T
	clock      *ledgertest.Clock
	catalog    *plan.Catalog
	l          *ledger.Redis // the first scheduler's ledger, for setup and checks
	accounts   *jobstore.Redis
	refreshers []*scheduler.Refresher
	// client and prefix reach the raw keys.
	client redis.UniversalClient
	prefix string
}

func newEnv(t *testing.T, newClient newClientFunc, schedulers, batch int) *env {
	catalog, err := plan.Parse([]byte(ledgertest.PeriodPlans))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b)
	e := &env{t: t, clock: ledgertest.NewClock(time.Date(2026, 1, 18, 5, 0, 0, 0, time.UTC)), catalog: catalog, prefix: prefix}
	for i := range schedulers {
		c := newClient(t)
		l := ledger.New(c, ledger.Options{Prefix: prefix, NowFunc: e.clock.Now})
		accounts := jobstore.New(c, jobstore.Options{Prefix: prefix, NowFunc: e.clock.Now})
		if i == 0 {
			e.l, e.accounts, e.client = l, accounts, c
		}
		r, err := scheduler.NewRefresher(scheduler.RefresherConfig{Ledger: l, Accounts: accounts, Catalog: catalog, BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		e.refreshers = append(e.refreshers, r)
	}
	return e
}

// account creates an account on every plan of the catalog at the clock's
// now and opens its pools for their first periods.
func (e *env) account(name string) string {
	e.t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := name + "-" + hex.EncodeToString(b)
	if err := e.open(id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// open creates the account id on every plan, through
// jobs.Service.CreateAccount; it may run on any goroutine.
func (e *env) open(id string) error {
	svc := jobs.NewService(jobs.Config{Ledger: e.l, Accounts: e.accounts, Catalog: e.catalog, NowFunc: e.clock.Now})
	_, err := svc.CreateAccount(ctx, id, "", e.catalog.IDs())
	return err
}

// sweep runs every scheduler's Sweep at once at the clock's now and returns
// the refreshes they applied between them.
func (e *env) sweep() int {
	e.t.Helper()
	now := e.clock.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	for _, r := range e.refreshers {
		wg.Go(func() {
			n, err := r.Sweep(ctx, now)
			if err != nil {
				e.t.Errorf("sweep at %s: %v", now, err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if e.t.Failed() {
		e.t.FailNow()
	}
	return total
}

func (e *env) refreshes(account string) map[string]int {
	e.t.Helper()
	entries, err := e.l.JournalAll(ctx, account)
	if err != nil {
		e.t.Fatal(err)
	}
	n := map[string]int{}
	for _, en := range entries {
		if en.Type == credit.EntryRefresh {
			n[en.Pool]++
		}
	}
	return n
}

func (e *env) spend(account, pool, job string, n int64) {
	e.t.Helper()
	if _, err := e.l.Reserve(ctx, credit.ReserveRequest{Account: account, Pool: pool, JobID: job, Requested: n, Policy: credit.Reject}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.l.Settle(ctx, credit.SettleRequest{Account: account, Pool: pool, JobID: job, Cost: n}); err != nil {
		e.t.Fatal(err)
	}
}

// TestSweepYear lives a year of monthly, yearly and weekly boundaries with
// three schedulers sweeping at once at each, in small batches: every period
// is refreshed exactly once, used resets and allocated is the grant, and a
// reservation made before a boundary settles after it in the new period.
func TestSweepYear(t *testing.T) {
	t.Parallel()
	targets(t, func(t *testing.T, newClient newClientFunc) {
		e := newEnv(t, newClient, 3, 2)
		var accts []string
		for range 5 {
			accts = append(accts, e.account("year"))
		}
		a := accts[0]
		if _, err := e.l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "inflight", Requested: 7, Policy: credit.Reject}); err != nil {
			t.Fatal(err)
		}
		grants := map[string]int64{}
		for _, p := range e.catalog.Plans() {
			grants[p.Pool] = p.Credits
		}
		periods := map[string]int{}
		stop := e.clock.Now().AddDate(1, 0, 0).Add(time.Hour)
		for k := 0; ; k++ {
			for _, acct := range accts {
				for pool := range grants {
					e.spend(acct, pool, "spend-"+pool+"-"+strconv.Itoa(k), 3)
				}
			}
			// Move to a minute past the next boundary of any pool.
			pools, err := e.l.Pools(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			next := pools[0].PeriodEnd
			for _, p := range pools {
				if p.PeriodEnd.Before(next) {
					next = p.PeriodEnd
				}
			}
			if next.After(stop) {
				break
			}
			e.clock.Advance(next.Add(time.Minute).Sub(e.clock.Now()))
			ended := 0
			for _, p := range pools {
				if !next.Before(p.PeriodEnd) {
					ended++
					periods[p.Name]++
				}
			}
			if got := e.sweep(); got != ended*len(accts) {
				t.Fatalf("at %s: %d refreshes applied, want %d", e.clock.Now(), got, ended*len(accts))
			}
			if got := e.sweep(); got != 0 {
				t.Fatalf("at %s: a second sweep applied %d", e.clock.Now(), got)
			}
			for _, acct := range accts {
				ps, err := e.l.Pools(ctx, acct)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					if !e.clock.Now().Before(p.PeriodEnd) || e.clock.Now().Before(p.PeriodStart) {
						t.Fatalf("%s/%s: period %s to %s at %s", acct, p.Name, p.PeriodStart, p.PeriodEnd, e.clock.Now())
					}
					if p.PeriodStart.Equal(next) && (p.Used != 0 || p.Allocated != grants[p.Name]) {
						t.Fatalf("%s/%s after its boundary: %+v", acct, p.Name, p.Counts)
					}
				}
				ledgertest.CheckAccount(t, e.l, acct)
			}
			if periods["people"] == 1 && pools[0].Name == "people" && !next.Before(pools[0].PeriodEnd) {
				r, err := e.l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "inflight", Cost: 3})
				if err != nil {
					t.Fatal(err)
				}
				p, err := e.l.Pool(ctx, a, "people")
				if err != nil {
					t.Fatal(err)
				}
				// spent from what it carried of the ended period; what it
				// gave back is forfeited, not added to the new one
				if r.Released != 4 || p.Used != 0 || p.Carried != 0 || p.Available() != 100 {
					t.Fatalf("settled across the boundary: %+v, pool %+v", r, p.Counts)
				}
			}
		}
		// From the 18th of January: 12 monthly boundaries, 1 yearly, 52 weekly.
		want := map[string]int{"people": 12, "properties": 1, "products": 52}
		for pool, n := range want {
			if periods[pool] != n {
				t.Fatalf("periods: %v, want %v", periods, want)
			}
		}
		for _, acct := range accts {
			got := e.refreshes(acct)
			for pool, n := range want {
				if got[pool] != n {
					t.Fatalf("%s: refresh entries %v, want %v", acct, got, want)
				}
			}
		}
		if r, err := e.l.Reservation(ctx, a, "inflight"); err != nil || r.State != credit.Settled {
			t.Fatalf("inflight: %+v %v", r, err)
		}
	})
}

// TestSweepDowntime stops the schedulers for three monthly periods: the
// sweep that follows applies one catch-up refresh per pool, into the current
// period. An account it cannot refresh is reported and does not stop it.
func TestSweepDowntime(t *testing.T) {
	t.Parallel()
	targets(t, func(t *testing.T, newClient newClientFunc) {
		e := newEnv(t, newClient, 1, 0)
		a := e.account("down")
		e.spend(a, "people", "before", 40)
		// An orphan: pools in the ledger, no account record.
		orphan := "orphan-" + a
		p, _ := e.catalog.Plan("monthly")
		start, end := p.FirstPeriod(e.clock.Now())
		if _, _, err := e.l.OpenPool(ctx, orphan, p.PoolConfig(), start, end); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3*31*24*time.Hour - 14*24*time.Hour)
		now := e.clock.Now() // 2026-04-07 05:00: three monthly boundaries passed
		applied, err := e.refreshers[0].Sweep(ctx, now)
		if !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("sweep error %v, want one wrapping jobs.ErrNotFound for the orphan", err)
		}
		// people (monthly) and products (weekly) ended; properties (yearly) not.
		if applied != 2 {
			t.Fatalf("applied %d, want 2", applied)
		}
		got := e.refreshes(a)
		if got["people"] != 1 || got["products"] != 1 || got["properties"] != 0 {
			t.Fatalf("refresh entries %v", got)
		}
		pool, err := e.l.Pool(ctx, a, "people")
		if err != nil {
			t.Fatal(err)
		}
		wantStart := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		if !pool.PeriodStart.Equal(wantStart) || !pool.PeriodEnd.Equal(wantStart.AddDate(0, 1, 0)) || pool.Used != 0 || pool.Allocated != 100 {
			t.Fatalf("people after catch-up: %s to %s, %+v", pool.PeriodStart, pool.PeriodEnd, pool.Counts)
		}
		if applied, err := e.refreshers[0].Sweep(ctx, now); applied != 0 || !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("second sweep: %d, %v", applied, err)
		}
		ledgertest.CheckAccount(t, e.l, a)
		ledgertest.CheckAccount(t, e.l, orphan)
	})
}

// countingAccounts records the ids of each call to AccountsByID.
type countingAccounts struct {
	scheduler.Accounts
	mu    sync.Mutex
	calls [][]string
}

func (c *countingAccounts) AccountsByID(ctx context.Context, ids []string) (map[string]jobs.Account, error) {
	c.mu.Lock()
	c.calls = append(c.calls, slices.Clone(ids))
	c.mu.Unlock()
	return c.Accounts.AccountsByID(ctx, ids)
}

// countingLedger records the size of each RefreshBatch.
type countingLedger struct {
	scheduler.Ledger
	mu      sync.Mutex
	batches []int
}

func (c *countingLedger) RefreshBatch(ctx context.Context, items []ledger.RefreshItem) ([]ledger.RefreshResult, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(items))
	c.mu.Unlock()
	return c.Ledger.RefreshBatch(ctx, items)
}

// TestSweepPages sweeps a few thousand accounts, every pool of each ended,
// in pages of 100: the accounts are looked up a page at a time, each once
// for all its pools, the refreshes go in batches of at most a page, and each
// (account, pool) is refreshed exactly once, with one journal entry.
func TestSweepPages(t *testing.T) {
	t.Parallel()
	const batch = 100
	targets(t, func(t *testing.T, newClient newClientFunc) {
		n := 2000
		if strings.HasSuffix(t.Name(), "/Miniredis") {
			// miniredis runs Lua in Go, many times slower under -race: 500
			// accounts still make five pages.
			n = 500
		}
		e := newEnv(t, newClient, 1, batch)
		ids := make([]string, n)
		work := make(chan int)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range work {
					errs <- e.open(ids[i])
				}
			})
		}
		for i := range ids {
			ids[i] = "page-" + strconv.Itoa(i)
			work <- i
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}

		// Past the end of every pool's first period, the yearly one's too.
		e.clock.Advance(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		accounts := &countingAccounts{Accounts: e.accounts}
		l := &countingLedger{Ledger: e.l}
		r, err := scheduler.NewRefresher(scheduler.RefresherConfig{Ledger: l, Accounts: accounts, Catalog: e.catalog, BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		pools := len(e.catalog.Plans())
		applied, err := r.Sweep(ctx, e.clock.Now())
		if err != nil || applied != pools*n {
			t.Fatalf("sweep: %d applied, %v; want %d", applied, err, pools*n)
		}

		looked := map[string]int{}
		for _, call := range accounts.calls {
			if len(call) == 0 || len(call) > batch {
				t.Errorf("a lookup of %d accounts, want 1 to %d", len(call), batch)
			}
			for _, id := range call {
				looked[id]++
			}
		}
		if len(accounts.calls) != n/batch || len(looked) != n {
			t.Errorf("%d lookups of %d accounts, want %d of %d", len(accounts.calls), len(looked), n/batch, n)
		}
		for id, k := range looked {
			if k != 1 {
				t.Errorf("%s looked up %d times", id, k)
			}
		}
		items := 0
		for _, b := range l.batches {
			if b == 0 || b > batch {
				t.Errorf("a refresh batch of %d, want 1 to %d", b, batch)
			}
			items += b
		}
		if items != pools*n || len(l.batches) != pools*n/batch {
			t.Errorf("%d refresh batches of %d items in all, want %d of %d", len(l.batches), items, pools*n/batch, pools*n)
		}

		for _, id := range ids {
			got := e.refreshes(id)
			for _, p := range e.catalog.Plans() {
				if got[p.Pool] != 1 {
					t.Fatalf("%s: refresh entries %v, want one per pool", id, got)
				}
			}
		}
		for _, id := range ids[:5] {
			ledgertest.CheckAccount(t, e.l, id)
		}
		if applied, err := r.Sweep(ctx, e.clock.Now()); applied != 0 || err != nil {
			t.Fatalf("second sweep: %d, %v", applied, err)
		}
	})
}

// failingAccounts is an account store whose every lookup fails.
type failingAccounts struct{ err error }

func (f failingAccounts) AccountsByID(context.Context, []string) (map[string]jobs.Account, error) {
	return nil, f.err
}

// TestSweepLookupFails: when the accounts cannot be looked up, the sweep of
// every pool name ends with the failure (the pool names that waited for the
// lookup too), and nothing is refreshed.
func TestSweepLookupFails(t *testing.T) {
	t.Parallel()
	targets(t, func(t *testing.T, newClient newClientFunc) {
		e := newEnv(t, newClient, 1, 0)
		var ids []string
		for range 3 {
			ids = append(ids, e.account("fail"))
		}
		e.clock.Advance(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		down := errors.New("accounts are down")
		r, err := scheduler.NewRefresher(scheduler.RefresherConfig{Ledger: e.l, Accounts: failingAccounts{down}, Catalog: e.catalog})
		if err != nil {
			t.Fatal(err)
		}
		applied, err := r.Sweep(ctx, e.clock.Now())
		if applied != 0 || !errors.Is(err, down) {
			t.Fatalf("sweep: %d applied, %v; want 0 and the lookup's failure", applied, err)
		}
		for _, pool := range []string{"people", "products", "properties"} {
			if !strings.Contains(err.Error(), "refresh sweep of "+pool) {
				t.Errorf("the sweep of %s did not end with the failure: %v", pool, err)
			}
		}
		for _, id := range ids {
			if got := e.refreshes(id); len(got) != 0 {
				t.Errorf("%s: refresh entries %v", id, got)
			}
		}
	})
}

// TestSweepSkipsBadRecord corrupts one account's record among several on a
// page: that account is skipped with its error, and every other is
// refreshed.
func TestSweepSkipsBadRecord(t *testing.T) {
	t.Parallel()
	targets(t, func(t *testing.T, newClient newClientFunc) {
		e := newEnv(t, newClient, 1, 0)
		var ids []string
		for range 6 {
			ids = append(ids, e.account("rec"))
		}
		bad := ids[2]
		if err := e.client.Set(ctx, e.prefix+":{a:"+bad+"}:profile", "{not json", 0).Err(); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		applied, err := e.refreshers[0].Sweep(ctx, e.clock.Now())
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "decode") {
			t.Fatalf("sweep: %v; want the bad record named", err)
		}
		pools := len(e.refreshes(ids[0]))
		if pools == 0 || applied != pools*(len(ids)-1) {
			t.Fatalf("applied %d, want %d pools × %d accounts", applied, pools, len(ids)-1)
		}
		for _, id := range ids {
			want := pools
			if id == bad {
				want = 0
			}
			if got := len(e.refreshes(id)); got != want {
				t.Errorf("%s: %d pools refreshed, want %d", id, got, want)
			}
			ledgertest.CheckAccount(t, e.l, id)
		}
	})
}

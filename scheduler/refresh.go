package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
)

// DefaultBatchSize is how many accounts a sweep reads from the period index
// at a time: their records are looked up in one pipeline, and their
// refreshes sent in another.
const DefaultBatchSize = 500

// Ledger is what the refresh sweep needs of the ledger.
type Ledger interface {
	// PoolsEndedBefore returns up to limit accounts, after skipping offset,
	// whose pool of this name has a period that ended at or before t.
	// Returns an error wrapping credit.ErrInvalidID for a bad pool name.
	PoolsEndedBefore(ctx context.Context, pool string, t time.Time, offset, limit int) ([]ledger.EndedPool, error)
	// RefreshBatch refreshes each item at most once per period. Per-item
	// failures are in the results; the error is a failure to write the index.
	RefreshBatch(ctx context.Context, items []ledger.RefreshItem) ([]ledger.RefreshResult, error)
	// NextPeriodEnd returns when, as indexed, the earliest period of the
	// pools of these names ends; zero for none.
	NextPeriodEnd(ctx context.Context, pools []string) (time.Time, error)
	// NextGrantExpiry returns when, as indexed, the earliest active grant
	// of the pools of these names expires; zero for none.
	NextGrantExpiry(ctx context.Context, pools []string) (time.Time, error)
	// GrantsExpiringBefore returns up to limit accounts, after skipping
	// offset, whose pool of this name has a grant that expires by t.
	GrantsExpiringBefore(ctx context.Context, pool string, t time.Time, offset, limit int) ([]string, error)
	// ExpireGrants expires the pool's grants whose expiry has come, each
	// once, and returns how many it expired.
	ExpireGrants(ctx context.Context, account, pool string) (int, error)
}

var _ Ledger = (*ledger.Redis)(nil)

// Accounts gives accounts' plans, many at a time.
type Accounts interface {
	// AccountsByID returns the accounts of ids that exist, by id, in one
	// round trip. An unknown or malformed id is absent from the map. Returns
	// an error when the store fails, or, with the map of the others, a
	// *jobstore.BadRecordsError naming the records that do not decode.
	AccountsByID(ctx context.Context, ids []string) (map[string]jobs.Account, error)
}

var _ Accounts = (*jobstore.Redis)(nil)

// RefresherConfig configures a Refresher.
type RefresherConfig struct {
	// Ledger holds the pools and the period index. Required.
	Ledger Ledger
	// Accounts gives each account's plan ids. Required.
	Accounts Accounts
	// Catalog holds the plans. Required.
	Catalog *plan.Catalog
	// BatchSize is how many accounts a page of the sweep holds: one lookup
	// of their records and one pipeline of their refreshes. Defaults to
	// DefaultBatchSize.
	BatchSize int
}

func (c *RefresherConfig) validate() error {
	switch {
	case c.Ledger == nil:
		return errors.New("refresher: no ledger")
	case c.Accounts == nil:
		return errors.New("refresher: no accounts")
	case c.Catalog == nil:
		return errors.New("refresher: no catalog")
	case c.BatchSize < 0:
		return fmt.Errorf("refresher: batch size %d", c.BatchSize)
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	return nil
}

// Refresher sweeps ended periods. It keeps no state between sweeps and is
// safe for concurrent use; several Refreshers, in one process or many, may
// sweep at once.
type Refresher struct {
	cfg RefresherConfig
}

// NewRefresher returns a Refresher, or an error naming a missing or bad
// field of cfg.
func NewRefresher(cfg RefresherConfig) (*Refresher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Refresher{cfg: cfg}, nil
}

// Sweep refreshes, for every pool name of the catalog, each account whose
// period has ended by now into the period that holds now: after downtime,
// one catch-up to the current period, never one per missed period. It
// returns how many refreshes this sweep applied (one another scheduler got
// to first is not counted).
//
// An account it cannot refresh (no longer known, or with no plan for the
// pool) is skipped and its reason joined into the error, and the sweep goes
// on; so is an account whose record does not decode. A failure to read the
// index or to reach Redis ends the sweep of that pool name, and is joined
// into the error.
//
// It sweeps the pool names at once, one goroutine each, so that Redis
// runs one pool's refreshes while another's next page is prepared. Each
// reads its index a page of BatchSize accounts at a time, looks up the
// page's accounts in one call (each account once per sweep, whatever the
// number of pools it is indexed under), and refreshes the page in one
// pipeline.
func (r *Refresher) Sweep(ctx context.Context, now time.Time) (applied int, err error) {
	s := &sweep{r: r, now: now, subs: map[string]*subscription{}, plans: map[string]planSet{}}
	pools := r.poolNames()
	swept := make([]poolSweep, len(pools))
	var wg sync.WaitGroup
	for i, pool := range pools {
		swept[i] = poolSweep{sweep: s, pool: pool, periods: map[periodKey]period{}}
		wg.Go(func() {
			if err := swept[i].run(ctx); err != nil {
				swept[i].errs = append(swept[i].errs, err)
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, ps := range swept {
		applied += ps.applied
		errs = append(errs, ps.errs...)
	}
	return applied, errors.Join(errs...)
}

// SweepDue sweeps when there is work: it looks up the earliest period end
// of the index (one round trip), and only when it has come by now does it
// Sweep. Run every second, it starts each period within about a second of
// its boundary, at the cost of one small read a second while nothing is
// due. It returns the refreshes applied.
func (r *Refresher) SweepDue(ctx context.Context, now time.Time) (int, error) {
	next, err := r.cfg.Ledger.NextPeriodEnd(ctx, r.poolNames())
	if err != nil || next.IsZero() || next.After(now) {
		return 0, err
	}
	return r.Sweep(ctx, now)
}

// ExpireDue expires the grants due by now, when the index says any is: one
// small read while none is. It returns the grants expired.
func (r *Refresher) ExpireDue(ctx context.Context, now time.Time) (int, error) {
	next, err := r.cfg.Ledger.NextGrantExpiry(ctx, r.poolNames())
	if err != nil || next.IsZero() || next.After(now) {
		return 0, err
	}
	return r.ExpireGrants(ctx, now)
}

// ExpireGrants expires, for every pool name of the catalog, the grants whose
// expiry has come by now, and returns how many it expired. An account whose
// grants cannot be expired is skipped, its error joined, and the rest go on.
func (r *Refresher) ExpireGrants(ctx context.Context, now time.Time) (int, error) {
	var errs []error
	expired := 0
	for _, pool := range r.poolNames() {
		skipped := 0
		for {
			accounts, err := r.cfg.Ledger.GrantsExpiringBefore(ctx, pool, now, skipped, r.cfg.BatchSize)
			if err != nil {
				errs = append(errs, fmt.Errorf("expire grants of %s: %w", pool, err))
				break
			}
			for _, a := range accounts {
				n, err := r.cfg.Ledger.ExpireGrants(ctx, a, pool)
				if err != nil {
					errs = append(errs, err)
					skipped++
					continue
				}
				if n == 0 {
					skipped++ // a stale index entry, now rewritten, or not due yet by its clock
				}
				expired += n
			}
			if len(accounts) < r.cfg.BatchSize {
				break
			}
		}
	}
	return expired, errors.Join(errs...)
}

func (r *Refresher) poolNames() []string {
	var names []string
	for _, p := range r.cfg.Catalog.Plans() {
		if !slices.Contains(names, p.Pool) {
			names = append(names, p.Pool)
		}
	}
	slices.Sort(names)
	return names
}

// sweep is the state one Sweep shares between its pool names: the plans of
// the accounts it has looked up.
type sweep struct {
	r   *Refresher
	now time.Time

	mu   sync.Mutex
	subs map[string]*subscription
	// plans holds the subscriptions made, by plan ids joined: accounts on
	// the same plans share one.
	plans map[string]planSet
}

// planSet is the subscription to one list of plan ids, or why there is none.
type planSet struct {
	sub *plan.Subscription
	err error
}

// subscription is an account's plans, or why it has none, once ready is
// closed.
type subscription struct {
	ready chan struct{}
	sub   *plan.Subscription
	err   error
	// failed is the lookup's own failure (Redis, decoding): it ends the
	// sweep of every pool name that waited for it.
	failed error
}

// poolSweep is the sweep of one pool name: what it applied, the accounts it
// skipped and why, and the periods it has worked out.
type poolSweep struct {
	*sweep
	pool    string
	periods map[periodKey]period
	applied int
	errs    []error
}

// periodKey is a plan and the end of a pool's last period, as indexed; with
// the sweep's now it makes the period a refresh applies.
type periodKey struct {
	plan    string
	lastEnd int64 // unix ms, the index's precision
}

// period is the span [start, end) a refresh applies.
type period struct{ start, end time.Time }

// run sweeps the pool name, a page at a time. The accounts it refreshes
// leave the range; those it skips stay, so the next page starts after them.
func (ps *poolSweep) run(ctx context.Context) error {
	size := ps.r.cfg.BatchSize
	seen := map[string]bool{}
	skipped := 0
	for {
		accounts, err := ps.r.cfg.Ledger.PoolsEndedBefore(ctx, ps.pool, ps.now, skipped, size)
		if err != nil {
			return fmt.Errorf("refresh sweep of %s: %w", ps.pool, err)
		}
		page := make([]ledger.EndedPool, 0, len(accounts))
		for _, e := range accounts {
			if seen[e.Account] {
				skipped++ // it stayed in the range: an error below, or a stale index entry
				continue
			}
			seen[e.Account] = true
			page = append(page, e)
		}
		subs, err := ps.lookUp(ctx, page)
		if err != nil {
			return fmt.Errorf("refresh sweep of %s: %w", ps.pool, err)
		}
		items := make([]ledger.RefreshItem, 0, len(page))
		for i, e := range page {
			item, err := ps.item(e, subs[i])
			if err != nil {
				ps.errs = append(ps.errs, err)
				skipped++
				continue
			}
			items = append(items, item)
		}
		if len(items) > 0 {
			results, err := ps.r.cfg.Ledger.RefreshBatch(ctx, items)
			if err != nil {
				return fmt.Errorf("refresh sweep of %s: %w", ps.pool, err)
			}
			for i, res := range results {
				switch {
				case res.Err != nil:
					ps.errs = append(ps.errs, fmt.Errorf("refresh %s/%s: %w", items[i].Account, ps.pool, res.Err))
					skipped++
				case res.Applied:
					ps.applied++
				}
				if res.Err == nil && !ps.now.Before(res.Pool.PeriodEnd) {
					skipped++ // still ended: it stays in the range
				}
			}
		}
		if len(accounts) < size || len(page) == 0 {
			return nil
		}
	}
}

// lookUp returns the plans of the accounts of page, in order. It reads the
// records of those that no pool name of the sweep has looked up yet in one
// call, and waits for those that another is looking up.
func (s *sweep) lookUp(ctx context.Context, page []ledger.EndedPool) ([]*subscription, error) {
	subs := make([]*subscription, len(page))
	var ids []string
	var mine []*subscription
	s.mu.Lock()
	for i, e := range page {
		sub, ok := s.subs[e.Account]
		if !ok {
			sub = &subscription{ready: make(chan struct{})}
			s.subs[e.Account] = sub
			ids = append(ids, e.Account)
			mine = append(mine, sub)
		}
		subs[i] = sub
	}
	s.mu.Unlock()

	if len(ids) > 0 {
		found, err := s.r.cfg.Accounts.AccountsByID(ctx, ids)
		var bad *jobstore.BadRecordsError
		if errors.As(err, &bad) {
			err = nil // those accounts are skipped, each with its error
		} else if err != nil {
			err = fmt.Errorf("look up %d accounts: %w", len(ids), err)
		}
		for i, id := range ids {
			sub := mine[i]
			switch a, ok := found[id]; {
			case err != nil:
				sub.failed = err
			case bad != nil && bad.Errs[id] != nil:
				sub.err = fmt.Errorf("refresh %s: plans: %w", id, bad.Errs[id])
			case !ok:
				sub.err = fmt.Errorf("refresh %s: plans: account %s: %w", id, id, jobs.ErrNotFound)
			default:
				set := s.subscribe(a.PlanIDs)
				if sub.sub = set.sub; set.err != nil {
					sub.err = fmt.Errorf("refresh %s: plans: %w", id, set.err)
				}
			}
			close(sub.ready)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, sub := range subs {
		<-sub.ready // closed by whoever looks it up, whether or not the lookup fails
		if sub.failed != nil {
			return nil, sub.failed
		}
	}
	return subs, nil
}

// subscribe returns the subscription to planIDs, made once per sweep.
func (s *sweep) subscribe(planIDs []string) planSet {
	var b strings.Builder
	for _, id := range planIDs {
		b.WriteString(strconv.Itoa(len(id)) + ":" + id) // no two lists alike
	}
	k := b.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	set, ok := s.plans[k]
	if !ok {
		set.sub, set.err = s.r.cfg.Catalog.Subscribe(planIDs)
		s.plans[k] = set
	}
	return set
}

// ErrNoPlan is joined into a sweep's error for an account indexed under a
// pool that none of its plans fills.
var ErrNoPlan = errors.New("no plan for pool")

// item is the refresh of e's pool into the period that holds now, following
// on from the period end the index holds, by the account's plan for the
// pool. An index entry that lags gives a period already applied, which
// changes nothing and heals the entry.
//
// The period is worked out once per plan and period end: the accounts of a
// cron-spec plan share their boundaries, and working one out walks the
// schedule some 64 times.
func (ps *poolSweep) item(e ledger.EndedPool, sub *subscription) (ledger.RefreshItem, error) {
	if sub.err != nil {
		return ledger.RefreshItem{}, sub.err
	}
	p, ok := sub.sub.PlanForPool(ps.pool)
	if !ok {
		return ledger.RefreshItem{}, fmt.Errorf("refresh %s/%s: %w: no plan of the account fills the pool", e.Account, ps.pool, ErrNoPlan)
	}
	k := periodKey{plan: p.ID, lastEnd: e.PeriodEnd.UnixMilli()}
	pd, ok := ps.periods[k]
	if !ok {
		pd.start, pd.end = p.CurrentPeriod(e.PeriodEnd, ps.now)
		ps.periods[k] = pd
	}
	if pd.end.IsZero() {
		return ledger.RefreshItem{}, fmt.Errorf("refresh %s/%s: plan %s has no boundary after %s", e.Account, ps.pool, p.ID, pd.start)
	}
	return ledger.RefreshItem{Account: e.Account, Pool: ps.pool, Start: pd.start, End: pd.end, Schedule: p.Refresh}, nil
}

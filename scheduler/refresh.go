package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
)

// DefaultBatchSize is how many refreshes a sweep sends in one pipeline.
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
}

var _ Ledger = (*ledger.Redis)(nil)

// Accounts gives an account's plans.
type Accounts interface {
	// Account returns an account. Returns an error wrapping jobs.ErrNotFound
	// for an unknown id.
	Account(ctx context.Context, id string) (jobs.Account, error)
}

var _ Accounts = jobs.Accounts(nil)

// RefresherConfig configures a Refresher.
type RefresherConfig struct {
	// Ledger holds the pools and the period index. Required.
	Ledger Ledger
	// Accounts gives each account's plan ids. Required.
	Accounts Accounts
	// Catalog holds the plans. Required.
	Catalog *plan.Catalog
	// BatchSize is how many refreshes go in one pipeline. Defaults to
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
// on; a failure to read the index or reach Redis ends the sweep with it.
func (r *Refresher) Sweep(ctx context.Context, now time.Time) (applied int, err error) {
	s := sweep{r: r, now: now, subs: map[string]subscription{}}
	for _, pool := range r.poolNames() {
		if err := s.pool(ctx, pool); err != nil {
			return s.applied, errors.Join(append(s.errs, err)...)
		}
	}
	return s.applied, errors.Join(s.errs...)
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

// sweep is the state of one Sweep: the subscriptions it has looked up.
type sweep struct {
	r       *Refresher
	now     time.Time
	subs    map[string]subscription
	applied int
	errs    []error
}

type subscription struct {
	sub *plan.Subscription
	err error
}

// pool sweeps one pool name, a page at a time. The accounts it refreshes
// leave the range; those it skips stay, so the next page starts after them.
func (s *sweep) pool(ctx context.Context, pool string) error {
	size := s.r.cfg.BatchSize
	seen := map[string]bool{}
	skipped := 0
	for {
		accounts, err := s.r.cfg.Ledger.PoolsEndedBefore(ctx, pool, s.now, skipped, size)
		if err != nil {
			return fmt.Errorf("refresh sweep of %s: %w", pool, err)
		}
		items := make([]ledger.RefreshItem, 0, len(accounts))
		fresh := false
		for _, e := range accounts {
			a := e.Account
			if seen[a] {
				skipped++ // it stayed in the range: an error below, or a stale index entry
				continue
			}
			seen[a], fresh = true, true
			p, err := s.plan(ctx, a, pool)
			if err != nil {
				s.errs = append(s.errs, err)
				skipped++
				continue
			}
			item, err := s.item(e, pool, p)
			if err != nil {
				s.errs = append(s.errs, err)
				skipped++
				continue
			}
			items = append(items, item)
		}
		if len(items) > 0 {
			results, err := s.r.cfg.Ledger.RefreshBatch(ctx, items)
			if err != nil {
				return fmt.Errorf("refresh sweep of %s: %w", pool, err)
			}
			for i, res := range results {
				switch {
				case res.Err != nil:
					s.errs = append(s.errs, fmt.Errorf("refresh %s/%s: %w", items[i].Account, pool, res.Err))
					skipped++
				case res.Applied:
					s.applied++
				}
				if res.Err == nil && !s.now.Before(res.Pool.PeriodEnd) {
					skipped++ // still ended: it stays in the range
				}
			}
		}
		if len(accounts) < size || !fresh {
			return nil
		}
	}
}

// plan returns the plan that fills pool for account, from the account's
// plan ids, looked up once per sweep.
func (s *sweep) plan(ctx context.Context, account, pool string) (plan.Plan, error) {
	sub, ok := s.subs[account]
	if !ok {
		a, err := s.r.cfg.Accounts.Account(ctx, account)
		if err == nil {
			sub.sub, err = s.r.cfg.Catalog.Subscribe(a.PlanIDs)
		}
		if err != nil {
			sub.err = fmt.Errorf("refresh %s: plans: %w", account, err)
		}
		s.subs[account] = sub
	}
	if sub.err != nil {
		return plan.Plan{}, sub.err
	}
	p, ok := sub.sub.PlanForPool(pool)
	if !ok {
		return plan.Plan{}, fmt.Errorf("refresh %s/%s: %w: no plan of the account fills the pool", account, pool, ErrNoPlan)
	}
	return p, nil
}

// ErrNoPlan is joined into a sweep's error for an account indexed under a
// pool that none of its plans fills.
var ErrNoPlan = errors.New("no plan for pool")

// item is the refresh of e's pool into the period that holds now, following
// on from the period end the index holds. An index entry that lags gives a
// period already applied, which changes nothing and heals the entry.
func (s *sweep) item(e ledger.EndedPool, pool string, p plan.Plan) (ledger.RefreshItem, error) {
	start, end := p.CurrentPeriod(e.PeriodEnd, s.now)
	if end.IsZero() {
		return ledger.RefreshItem{}, fmt.Errorf("refresh %s/%s: plan %s has no boundary after %s", e.Account, pool, p.ID, start)
	}
	return ledger.RefreshItem{Account: e.Account, Pool: pool, Start: start, End: end}, nil
}

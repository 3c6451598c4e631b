package plan

import (
	"errors"
	"fmt"
	"slices"
)

// ErrUnknownPlan is returned (wrapped) by Catalog.Subscribe for a plan id
// that is not in the catalog.
var ErrUnknownPlan = errors.New("unknown plan")

// ErrPlanConflict is returned (wrapped) by Catalog.Subscribe when two plans
// cannot be held together: they fill the same pool, they overlap on a
// (data type, operation) pair, or one is listed twice.
var ErrPlanConflict = errors.New("plans conflict")

// Pair is one (data type, operation) pair: what a job draws credits for.
type Pair struct {
	DataType  DataType
	Operation Operation
}

func (p Pair) String() string { return fmt.Sprintf("(%s, %s)", p.DataType, p.Operation) }

// Subscription is the plans of one account, checked to fit together: each
// pool is filled by one plan, and each (data type, operation) pair draws
// from one pool. It is read-only and safe for concurrent use.
type Subscription struct {
	plans  []Plan         // in the order subscribed
	byPair map[Pair]int   // index into plans
	byPool map[string]int // index into plans
	pools  []string       // sorted
}

// Subscribe returns the subscription of one account to the plans with the
// given ids. No plans is a valid, empty subscription.
//
// It returns an error wrapping ErrUnknownPlan for an id not in the catalog,
// and one wrapping ErrPlanConflict, naming both plans, when an id is listed
// twice, two plans fill the same pool, or two plans cover the same
// (data type, operation) pair. Every mistake is reported, joined.
func (c *Catalog) Subscribe(planIDs []string) (*Subscription, error) {
	s := &Subscription{byPair: map[Pair]int{}, byPool: map[string]int{}}
	var errs []error
	for _, id := range planIDs {
		p, ok := c.Plan(id)
		if !ok {
			errs = append(errs, fmt.Errorf("%w %q", ErrUnknownPlan, id))
			continue
		}
		if slices.ContainsFunc(s.plans, func(q Plan) bool { return q.ID == id }) {
			errs = append(errs, fmt.Errorf("%w: plan %q is listed twice", ErrPlanConflict, id))
			continue
		}
		if i, ok := s.byPool[p.Pool]; ok {
			errs = append(errs, fmt.Errorf("%w: plans %q and %q both fill pool %q",
				ErrPlanConflict, s.plans[i].ID, id, p.Pool))
			continue
		}
		var overlap []error
		for _, pair := range p.pairs() {
			if i, ok := s.byPair[pair]; ok {
				q := s.plans[i]
				overlap = append(overlap, fmt.Errorf("%w: plans %q and %q overlap: %s would draw from pools %q and %q",
					ErrPlanConflict, q.ID, id, pair, q.Pool, p.Pool))
			}
		}
		if len(overlap) > 0 {
			errs = append(errs, overlap...)
			continue
		}
		i := len(s.plans)
		s.plans = append(s.plans, p)
		s.byPool[p.Pool] = i
		s.pools = append(s.pools, p.Pool)
		for _, pair := range p.pairs() {
			s.byPair[pair] = i
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(s.pools)
	return s, nil
}

// pairs returns every (data type, operation) pair the plan covers, data
// types first, in the plan's order.
func (p Plan) pairs() []Pair {
	pairs := make([]Pair, 0, len(p.DataTypes)*len(p.Operations))
	for _, dt := range p.DataTypes {
		for _, op := range p.Operations {
			pairs = append(pairs, Pair{dt, op})
		}
	}
	return pairs
}

// PoolFor returns the plan whose pool the pair (dt, op) draws from, and
// whether the subscription covers the pair at all.
func (s *Subscription) PoolFor(dt DataType, op Operation) (Plan, bool) {
	i, ok := s.byPair[Pair{dt, op}]
	if !ok {
		return Plan{}, false
	}
	return s.plans[i].clone(), true
}

// PlanForPool returns the plan that fills pool, and whether there is one.
func (s *Subscription) PlanForPool(pool string) (Plan, bool) {
	i, ok := s.byPool[pool]
	if !ok {
		return Plan{}, false
	}
	return s.plans[i].clone(), true
}

// Plans returns the subscribed plans, in the order subscribed.
func (s *Subscription) Plans() []Plan {
	plans := make([]Plan, len(s.plans))
	for i, p := range s.plans {
		plans[i] = p.clone()
	}
	return plans
}

// PlanIDs returns the ids of the subscribed plans, in the order subscribed.
func (s *Subscription) PlanIDs() []string {
	ids := make([]string, len(s.plans))
	for i, p := range s.plans {
		ids[i] = p.ID
	}
	return ids
}

// Pools returns the names of the pools the plans fill, sorted; never nil.
func (s *Subscription) Pools() []string { return append([]string{}, s.pools...) }

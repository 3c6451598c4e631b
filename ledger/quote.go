package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Outcome is what a reservation would do with a request: take all of it,
// part of it, or refuse it.
type Outcome string

// The outcomes of a quote.
const (
	Accept  Outcome = "accept"
	Partial Outcome = "partial"
	Reject  Outcome = "reject"
)

// Quote is what Reserve would do now with a request for Need credits,
// worked out from the pool without reserving anything.
type Quote struct {
	Outcome Outcome
	// Need is the credits the request needs.
	Need int64
	// Prepaid and Overage are what the reservation would take from the
	// prepaid balance and from the overage headroom; both 0 when refused.
	Prepaid, Overage int64
	// Available is the most the request could have reserved: the prepaid
	// available balance, plus the overage headroom under the overage
	// policy (the Available of a refusal's *credit.InsufficientError).
	Available int64
	// AmountDueCents is the price of Overage.
	AmountDueCents int64
}

// Reserved is what the reservation would hold, prepaid plus overage.
func (q Quote) Reserved() int64 { return q.Prepaid + q.Overage }

// QuoteReserve applies to pool p the rule by which the reserve script
// meets a need of credits under policy: a need the prepaid balance covers
// is taken whole; short of it, reject refuses, partial takes what is
// available (and refuses when nothing is), and overage takes the shortfall
// from the headroom (limit - outstanding - reserved overage) and refuses
// beyond it. It is the script's rule in Go, for quotes; a property test
// holds the two to the same answers.
//
// Returns credit.ErrOverageDisabled for the overage policy on a pool
// without overage, as Reserve does, and an error wrapping
// credit.ErrInvalidPolicy for an unknown policy.
func QuoteReserve(p credit.Pool, need int64, policy credit.Policy) (Quote, error) {
	if !policy.Valid() {
		return Quote{}, fmt.Errorf("%w: %q", credit.ErrInvalidPolicy, policy)
	}
	var headroom int64
	if policy == credit.Overage {
		if !p.OverageEnabled {
			return Quote{}, credit.ErrOverageDisabled
		}
		headroom = max(p.OverageLimit-p.OverageOutstanding-p.OverageReserved, 0)
	}
	available := max(p.AllocationAvailable(), 0) + p.GrantsAvailable
	q := Quote{Need: need, Available: available + headroom}
	prepaid, overage, err := credit.Split(policy, need, available, headroom)
	if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
		q.Outcome, q.Available = Reject, ie.Available
		return q, nil
	}
	if err != nil {
		return Quote{}, err
	}
	q.Prepaid, q.Overage, q.AmountDueCents = prepaid, overage, overage*p.OveragePriceCents
	q.Outcome = Accept
	if prepaid+overage < need {
		q.Outcome = Partial
	}
	return q, nil
}

// Charged reports, for each of ids, whether pool charged that record id
// before (its dedup set holds it), as Reserve and Settle decide it. It
// reads one key and changes nothing.
func (l *Redis) Charged(ctx context.Context, account, pool string, ids []string) ([]bool, error) {
	if err := checkIDs("account", account, "pool", pool); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []bool{}, nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	got, err := l.client.SMIsMember(ctx, l.keys.dedup(account, pool), members...).Result()
	if err != nil {
		return nil, fmt.Errorf("charged records of %s/%s: %w", account, pool, err)
	}
	return got, nil
}

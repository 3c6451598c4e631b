package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

// ErrNoSource is returned by Quote from a service built without a source:
// it has no dataset to count or match records in.
var ErrNoSource = errors.New("quotes need the dataset, and this process has none")

// Quote is what a submit of a spec would do now, and what its job would
// cost, as POST /v1/quotes answers it.
type Quote struct {
	Kind      Kind   `json:"kind"`
	DataType  string `json:"data_type"`
	Requested int64  `json:"requested"`
	// Pool is the pool the job would draw from; not part of the answer.
	Pool string `json:"-"`
	// NumFound is the records the query matches (search, download); nil for
	// an enrichment.
	NumFound *int64 `json:"num_found"`
	// Matched is the items that match a record, duplicates included
	// (enrichment); nil for a search or a download.
	Matched *int64 `json:"matched"`
	// SkippedDuplicates counts the items dedup makes free.
	SkippedDuplicates int64 `json:"skipped_duplicates"`
	// CreditsRequired is the credits needed: Requested - SkippedDuplicates.
	CreditsRequired int64 `json:"credits_required"`
	// CreditsAvailable is the most the request could reserve: the pool's
	// available credits, plus the overage headroom under the overage policy.
	CreditsAvailable int64 `json:"credits_available"`
	// OverageCredits is the overage the reservation would take, and
	// AmountDueCents its price.
	OverageCredits int64 `json:"overage_credits"`
	AmountDueCents int64 `json:"amount_due_cents"`
	// Outcome is what a submit would do: accept, partial or reject.
	Outcome ledger.Outcome `json:"outcome"`
	// PartialReason is the sentence of a partial job; empty otherwise.
	PartialReason string `json:"partial_reason,omitempty"`
	// ExpectedCost is what the job would cost if it ran now.
	ExpectedCost int64 `json:"expected_cost"`
}

// Quote says what Submit would do with spec now, and what the job would
// cost, without reserving, charging or recording anything: it validates
// spec as Submit does, counts the records a query matches or matches an
// enrichment's items (with Config.Source, as a worker does), reads which of
// the matched records the pool charged before when it dedups, reads the
// pool, and applies the reserve's rule to it (ledger.QuoteReserve).
//
// Returns the errors of Submit for a bad spec, an account or a plan
// (*FieldError, ErrNotFound, ErrNotInPlan, credit.ErrOverageDisabled, but
// never a *credit.InsufficientError: a refusal is the outcome reject);
// ErrNoSource without a source; any other error is a failure of the
// infrastructure.
func (s *Service) Quote(ctx context.Context, account string, spec Spec) (Quote, error) {
	if err := spec.Normalize(s.cfg.Limits, s.cfg.DataTypes); err != nil {
		return Quote{}, err
	}
	sub, err := s.subscription(ctx, account)
	if err != nil {
		return Quote{}, err
	}
	op := plan.Operation(spec.Kind)
	p, ok := sub.PoolFor(plan.DataType(spec.DataType), op)
	if !ok {
		return Quote{}, fmt.Errorf("%w: %s of %s", ErrNotInPlan, spec.Kind, spec.DataType)
	}
	if s.cfg.Source == nil {
		return Quote{}, ErrNoSource
	}
	policy := spec.OnInsufficient
	if policy == "" {
		policy = p.OnInsufficient
	}
	q := Quote{Kind: spec.Kind, DataType: spec.DataType, Requested: spec.Requested(), Pool: p.Pool}
	if spec.Kind != Enrichment {
		found, err := s.countFound(ctx, spec)
		if err != nil {
			return Quote{}, err
		}
		q.NumFound = &found
		pool, err := s.cfg.Ledger.Pool(ctx, account, p.Pool)
		if err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
		r, err := ledger.QuoteReserve(pool, q.Requested, policy)
		if err != nil {
			return Quote{}, err
		}
		q.fill(r)
		q.ExpectedCost = min(found, q.runs(r))
		return q, nil
	}
	return s.quoteItems(ctx, account, spec, p, policy, q)
}

// quoteItems is Quote of an enrichment.
func (s *Service) quoteItems(ctx context.Context, account string, spec Spec, p plan.Plan, policy credit.Policy, q Quote) (Quote, error) {
	op := plan.Operation(spec.Kind)
	dedup, atAcceptance := p.Dedups(op), p.ChargesAtAcceptance(op)
	matchedIDs, err := s.matchItems(ctx, spec)
	if _, refused := errors.AsType[*FieldError](err); refused && (!dedup || spec.matchesByID()) {
		// A submit, which matches nothing here, takes the items; its job
		// will match none of them.
		matchedIDs, err = make([]string, len(spec.Items)), nil
	}
	if err != nil {
		return Quote{}, err
	}
	var matched int64
	for _, id := range matchedIDs {
		if id != "" {
			matched++
		}
	}
	q.Matched = &matched
	// The ids the reserve dedups by, as Submit passes them.
	ids := spec.ItemRecordIDs()
	if dedup && !spec.matchesByID() {
		ids = matchedIDs
	}
	charged, err := s.chargedAmong(ctx, account, p.Pool, ids, dedup)
	if err != nil {
		return Quote{}, err
	}
	need := credit.CountChargeable(ids, dedup, charged)
	pool, err := s.cfg.Ledger.Pool(ctx, account, p.Pool)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	r, err := ledger.QuoteReserve(pool, need, policy)
	if err != nil {
		return Quote{}, err
	}
	q.fill(r)
	// The cost: of the items that would run, those not free, and, unless
	// the plan charges every submitted item, only those that match.
	kept := credit.ChooseItems(ids, dedup, charged, q.runs(r)).Kept
	seen := map[string]bool{}
	for i, id := range ids {
		if !kept[i] {
			continue
		}
		free := dedup && id != "" && (charged(id) || seen[id])
		if dedup && id != "" {
			seen[id] = true
		}
		if !free && (atAcceptance || matchedIDs[i] != "") {
			q.ExpectedCost++
		}
	}
	return q, nil
}

// chargedAmong returns whether the pool charged each record id before, read
// once for the distinct ids; without dedup, nothing counts as charged.
func (s *Service) chargedAmong(ctx context.Context, account, pool string, ids []string, dedup bool) (func(string) bool, error) {
	known := map[string]bool{}
	if dedup {
		var distinct []string
		for _, id := range ids {
			if _, ok := known[id]; !ok && id != "" {
				known[id] = false
				distinct = append(distinct, id)
			}
		}
		got, err := s.cfg.Ledger.Charged(ctx, account, pool, distinct)
		if err != nil {
			return nil, fmt.Errorf("quote: %w", err)
		}
		for i, id := range distinct {
			known[id] = i < len(got) && got[i]
		}
	}
	return func(id string) bool { return known[id] }, nil
}

// fill sets what the reserve would do.
func (q *Quote) fill(r ledger.Quote) {
	q.SkippedDuplicates = q.Requested - r.Need
	q.CreditsRequired = r.Need
	q.CreditsAvailable = r.Available
	q.OverageCredits = r.Overage
	q.AmountDueCents = r.AmountDueCents
	q.Outcome = r.Outcome
	if r.Outcome == ledger.Partial {
		q.PartialReason = PartialReason(r.Reserved(), r.Need)
	}
}

// runs is the credits the job would run on: what the reserve would take,
// or, for a job it would refuse, all it needs.
func (q *Quote) runs(r ledger.Quote) int64 {
	if r.Outcome == ledger.Reject {
		return r.Need
	}
	return r.Reserved()
}

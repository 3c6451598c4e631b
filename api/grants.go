package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// GrantLedger is what the API needs of the ledger for credit grants: blocks
// of credits apart from a pool's period allocation, with their own expiry.
// *ledger.Redis implements it, as part of Ledger.
type GrantLedger interface {
	// AddGrant adds a grant once per id: an id that exists with the same
	// terms returns that grant, created false, and changes nothing. Returns
	// credit.ErrGrantConflict for an id that exists with other terms,
	// credit.ErrUnknownAccount, credit.ErrUnknownPool, or an error wrapping
	// credit.ErrInvalidID or credit.ErrInvalidAmount for bad input.
	AddGrant(ctx context.Context, req credit.GrantRequest) (g credit.Grant, created bool, err error)
	// Grants returns every grant of an account, active ones first in
	// spending order, then the ended ones, newest first. Returns
	// credit.ErrUnknownAccount for an account without pools.
	Grants(ctx context.Context, account string) ([]credit.Grant, error)
	// VoidGrant ends a grant at once, forfeiting what it could still give;
	// a grant that has ended comes back unchanged. Returns
	// credit.ErrGrantNotFound for an id the account has not, and an error
	// wrapping credit.ErrInvalidID for a malformed one.
	VoidGrant(ctx context.Context, account, id, reason string) (credit.Grant, error)
}

// grantRequest is the body of POST /v1/accounts/{id}/grants.
type grantRequest struct {
	Pool   string `json:"pool"`
	Amount *int64 `json:"amount"`
	// ExpiresAt is an RFC 3339 time, or null (or absent) for never.
	ExpiresAt *string `json:"expires_at"`
	Priority  *int64  `json:"priority"`
	Reason    string  `json:"reason"`
}

// addGrant is POST /v1/accounts/{id}/grants: a block of credits of one pool
// with its own expiry and priority. Under an Idempotency-Key the grant's id
// is derived from the key, so that a retry whose first answer was lost adds
// nothing twice.
func (s *Server) addGrant(c *call) (int, any, error) {
	var req grantRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	account := c.r.PathValue("id")
	ctx := c.r.Context()
	// The account first: an unknown one is 404 whatever the body says.
	pools, err := s.ledger.Pools(ctx, account)
	if err != nil {
		return 0, nil, err
	}
	g := credit.GrantRequest{Account: account, Pool: req.Pool, Reason: req.Reason}
	if err := checkGrantPool(req.Pool, pools); err != nil {
		return 0, nil, err
	}
	switch {
	case req.Amount == nil:
		return 0, nil, fieldError("amount", "is required: %s", grantAmountRange)
	case *req.Amount < 1 || *req.Amount > credit.MaxAmount:
		return 0, nil, fieldError("amount", "must be %s, got %d", grantAmountRange, *req.Amount)
	}
	g.Amount = *req.Amount
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return 0, nil, fieldError("expires_at", "must be an RFC 3339 time such as 2030-01-31T00:00:00Z, or null for a grant that never expires")
		}
		if now := s.cfg.NowFunc(); !t.After(now) {
			return 0, nil, fieldError("expires_at", "must be in the future (it is %s now), or null for a grant that never expires; got %s",
				now.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		}
		g.ExpiresAt = t.UTC()
	}
	if req.Priority != nil {
		if p := *req.Priority; p < -credit.MaxGrantPriority || p > credit.MaxGrantPriority {
			return 0, nil, fieldError("priority", "must be %s, got %d", grantPriorityRange, p)
		}
		g.Priority = *req.Priority
	}
	if len(req.Reason) > credit.MaxReasonLen {
		return 0, nil, fieldError("reason", "must be at most %d bytes", credit.MaxReasonLen)
	}
	g.ID = credit.NewGrantID()
	if c.idemKey != "" {
		g.ID = credit.GrantIDFor(account, c.idemKey)
	}
	added, _, err := s.ledger.AddGrant(ctx, g)
	if err != nil {
		return 0, nil, err
	}
	// A grant found rather than created (a retry whose first answer was
	// not kept) answers as the first request did.
	return http.StatusCreated, newGrantView(added), nil
}

// The ranges of a grant's numbers, as the 400s say them.
var (
	grantAmountRange   = fmt.Sprintf("an integer from 1 to %d", int64(credit.MaxAmount))
	grantPriorityRange = fmt.Sprintf("an integer from %d to %d (lower is spent first; default 0)", -credit.MaxGrantPriority, credit.MaxGrantPriority)
)

// checkGrantPool returns a *jobs.FieldError on pool, listing the account's
// pools, unless pool is one of them.
func checkGrantPool(pool string, pools []credit.Pool) error {
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.Name
	}
	slices.Sort(names)
	list := strings.Join(names, ", ")
	switch {
	case pool == "":
		return fieldError("pool", "is required: one of the account's pools, %s", list)
	case !slices.Contains(names, pool):
		return fieldError("pool", "%q is not a pool of this account: its pools are %s", pool, list)
	}
	return nil
}

// listOwnGrants is GET /v1/account/grants: the key's account's grants.
func (s *Server) listOwnGrants(c *call) (int, any, error) {
	return s.grantList(c, c.p.Account)
}

// listGrants is GET /v1/accounts/{id}/grants. Finance and admin read any
// account's; a user key reads its own, and any other id is 404, as if it
// did not exist.
func (s *Server) listGrants(c *call) (int, any, error) {
	account := c.r.PathValue("id")
	if c.p.Role == RoleUser && account != c.p.Account {
		return 0, nil, jobs.ErrNotFound
	}
	return s.grantList(c, account)
}

func (s *Server) grantList(c *call, account string) (int, any, error) {
	gs, err := s.ledger.Grants(c.r.Context(), account)
	if err != nil {
		return 0, nil, err
	}
	views := make([]grantView, 0, len(gs))
	for _, g := range gs {
		views = append(views, newGrantView(g))
	}
	return http.StatusOK, map[string]any{"grants": views}, nil
}

// voidGrant is DELETE /v1/accounts/{id}/grants/{grant_id}: the grant ends
// at once and what it could still give is forfeited; credits that jobs in
// flight reserved from it stay theirs. The optional reason (?reason=) goes
// into the journal. Voiding a grant that has ended answers it unchanged.
func (s *Server) voidGrant(c *call) (int, any, error) {
	reason := c.r.URL.Query().Get("reason")
	if len(reason) > credit.MaxReasonLen {
		return 0, nil, fieldError("reason", "must be at most %d bytes", credit.MaxReasonLen)
	}
	g, err := s.ledger.VoidGrant(c.r.Context(), c.r.PathValue("id"), c.r.PathValue("grant_id"), reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newGrantView(g), nil
}

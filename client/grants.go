package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// GrantStatus is where a credit grant is in its life.
type GrantStatus string

// The states of a grant. Expired and voided are final.
const (
	GrantActive  GrantStatus = "active"
	GrantExpired GrantStatus = "expired"
	GrantVoided  GrantStatus = "voided"
)

// Grant is a block of credits of one pool, apart from its period
// allocation: a bought pack or a promotion, with its own expiry. A pool
// spends its period allocation first, then its grants by Priority (lower
// first), then earliest ExpiresAt (never-expiring last), then oldest.
type Grant struct {
	ID     string `json:"id"`
	Pool   string `json:"pool"`
	Amount int64  `json:"amount"`
	// Remaining is Amount less what was posted from it; 0 once the grant
	// has expired or been voided.
	Remaining int64 `json:"remaining"`
	// ExpiresAt is when the grant expires; nil for never.
	ExpiresAt *time.Time  `json:"expires_at"`
	Priority  int64       `json:"priority"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
	Status    GrantStatus `json:"status"`
}

// AddGrantRequest is the body of POST /v1/accounts/{id}/grants.
type AddGrantRequest struct {
	// Pool is one of the account's pools.
	Pool string `json:"pool"`
	// Amount is the credits granted, at least 1.
	Amount int64 `json:"amount"`
	// ExpiresAt is when the grant expires, in the future; nil for never.
	ExpiresAt *time.Time `json:"expires_at"`
	// Priority orders spending among grants: lower first. 0 by default.
	Priority int64 `json:"priority"`
	// Reason is shown with the grant and journaled.
	Reason string `json:"reason,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	// The grant's id comes from the account and the key, so a retry with
	// the same key after a lost answer adds the grant once.
	IdempotencyKey string `json:"-"`
}

// AddGrant adds a credit grant to a pool of an account and returns it
// (admin).
func (c *Client) AddGrant(ctx context.Context, accountID string, req AddGrantRequest) (*Grant, error) {
	if accountID == "" {
		return nil, errEmptyID
	}
	var out Grant
	if err := c.post(ctx, "/v1/accounts/"+pathEscape(accountID)+"/grants", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Grants returns the key's account's grants (user key): the active ones
// first, in the order the pools spend them, then the expired and voided
// ones, newest first.
func (c *Client) Grants(ctx context.Context) ([]Grant, error) {
	return c.grants(ctx, "/v1/account/grants")
}

// AccountGrants returns an account's grants, in the order of Grants
// (finance or admin; a user key may name its own account only).
func (c *Client) AccountGrants(ctx context.Context, accountID string) ([]Grant, error) {
	if accountID == "" {
		return nil, errEmptyID
	}
	return c.grants(ctx, "/v1/accounts/"+pathEscape(accountID)+"/grants")
}

func (c *Client) grants(ctx context.Context, path string) ([]Grant, error) {
	var out struct {
		Grants []Grant `json:"grants"`
	}
	if err := c.get(ctx, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Grants, nil
}

// VoidGrant ends a grant at once and returns it, status voided (admin):
// what it could still give is forfeited, with reason in the journal, while
// credits that jobs in flight reserved from it stay theirs. Voiding a grant
// that has ended returns it unchanged.
func (c *Client) VoidGrant(ctx context.Context, accountID, grantID, reason string) (*Grant, error) {
	if accountID == "" || grantID == "" {
		return nil, errEmptyID
	}
	q := url.Values{}
	set(q, "reason", reason)
	var out Grant
	r := request{method: http.MethodDelete, path: "/v1/accounts/" + pathEscape(accountID) + "/grants/" + pathEscape(grantID), query: q}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

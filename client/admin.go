package client

import (
	"context"
	"time"
)

// Role is what a key may do.
type Role string

// The roles of keys.
const (
	RoleUser    Role = "user"    // one account's key
	RoleFinance Role = "finance" // works the overage holds
	RoleAdmin   Role = "admin"   // all accounts
)

// CreateAccountRequest is the body of POST /v1/accounts.
type CreateAccountRequest struct {
	// ID is the account's id, [a-z0-9_-]{1,64}; "" lets the API make one.
	ID string `json:"id,omitempty"`
	// Name is a display name.
	Name string `json:"name"`
	// Plans are the ids of the account's plans, which may not overlap.
	Plans []string `json:"plans"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	IdempotencyKey string `json:"-"`
}

// CreatedAccount is the answer to POST /v1/accounts: the account and its
// first user key, shown this once.
type CreatedAccount struct {
	Account Account `json:"account"`
	APIKey  string  `json:"api_key"`
}

// CreateAccount creates an account with its plans and its first user key
// (admin).
func (c *Client) CreateAccount(ctx context.Context, req CreateAccountRequest) (*CreatedAccount, error) {
	var out CreatedAccount
	if err := c.post(ctx, "/v1/accounts", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateKeyRequest is the body of POST /v1/keys and POST
// /v1/accounts/{id}/keys.
type CreateKeyRequest struct {
	// Role is "user" (or empty) for an account's key; "finance" or "admin"
	// for CreateKey.
	Role Role `json:"role,omitempty"`
	// ExpiresAt is when the key stops working; nil (sent as no field):
	// never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	IdempotencyKey string `json:"-"`
}

// Key is an API key as the API lists it, never with its secret.
type Key struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
	// AccountID is the account of a user key, "" for finance and admin.
	AccountID  string     `json:"account_id"`
	CreatedAt  *time.Time `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// NewKey is a key just created, with its secret, shown this once.
type NewKey struct {
	Key
	APIKey string `json:"api_key"`
}

// CreateAccountKey makes another user key of an account (admin).
func (c *Client) CreateAccountKey(ctx context.Context, accountID string, req CreateKeyRequest) (*NewKey, error) {
	if accountID == "" {
		return nil, errEmptyID
	}
	var out NewKey
	if err := c.post(ctx, "/v1/accounts/"+pathEscape(accountID)+"/keys", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateKey makes a finance or admin key (admin).
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*NewKey, error) {
	var out NewKey
	if err := c.post(ctx, "/v1/keys", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys lists every key (admin).
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	if err := c.get(ctx, "/v1/keys", nil, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// ListAccountKeys lists an account's keys (admin).
func (c *Client) ListAccountKeys(ctx context.Context, accountID string) ([]Key, error) {
	if accountID == "" {
		return nil, errEmptyID
	}
	var out struct {
		Keys []Key `json:"keys"`
	}
	if err := c.get(ctx, "/v1/accounts/"+pathEscape(accountID)+"/keys", nil, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// RevokeKey revokes a key at once, everywhere, and returns it as it was
// (admin).
func (c *Client) RevokeKey(ctx context.Context, keyID string) (*Key, error) {
	if keyID == "" {
		return nil, errEmptyID
	}
	var out Key
	if err := c.del(ctx, "/v1/keys/"+pathEscape(keyID), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreditsRequest is the body of POST /v1/accounts/{id}/credits.
type CreditsRequest struct {
	// Pool is the pool to change.
	Pool string `json:"pool"`
	// Amount is added to the pool: positive is a top-up, negative an
	// adjustment.
	Amount int64 `json:"amount"`
	// Reason is journaled with the change.
	Reason string `json:"reason,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	// The ledger applies the change once per key, so a retry with the same
	// key after a lost answer changes nothing twice.
	IdempotencyKey string `json:"-"`
}

// ChangeCredits tops up (or, with a negative amount, adjusts) a pool of an
// account, and returns the pool after (admin).
func (c *Client) ChangeCredits(ctx context.Context, accountID string, req CreditsRequest) (*Pool, error) {
	if accountID == "" {
		return nil, errEmptyID
	}
	var out Pool
	if err := c.post(ctx, "/v1/accounts/"+pathEscape(accountID)+"/credits", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

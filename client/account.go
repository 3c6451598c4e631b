package client

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Account is an account. CreateAccount fills ID, Name, PlanIDs and
// CreatedAt; GetAccount fills all but CreatedAt.
type Account struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	PlanIDs []string `json:"plan_ids"`
	// Role is the role of the key that read the account.
	Role Role `json:"role,omitempty"`
	// Pools are the account's credit balances by pool name.
	Pools map[string]Pool `json:"pools,omitempty"`
	// Usage counts the account's requests this period.
	Usage     *Usage    `json:"usage,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Pool is one credit balance of an account.
type Pool struct {
	// Name is the pool's name; GetAccount leaves it to the map key.
	Name      string `json:"name,omitempty"`
	Allocated int64  `json:"allocated"`
	Used      int64  `json:"used"`
	Reserved  int64  `json:"reserved"`
	// Available is what can be reserved now: allocated - used - reserved
	// (+ grants_available), never negative.
	Available          int64 `json:"available"`
	OverageEnabled     bool  `json:"overage_enabled"`
	OverageLimit       int64 `json:"overage_limit"`
	OverageReserved    int64 `json:"overage_reserved"`
	OverageOutstanding int64 `json:"overage_outstanding"`
	// GrantsAvailable is what the pool's active credit grants can still
	// give; 0 where the API has no grants.
	GrantsAvailable int64     `json:"grants_available"`
	PeriodStart     time.Time `json:"period_start"`
	PeriodEnd       time.Time `json:"period_end"`
}

// Usage counts an account's requests since PeriodStart.
type Usage struct {
	PeriodStart time.Time `json:"period_start"`
	APIRequests int64     `json:"api_requests"`
	Searches    int64     `json:"searches"`
	Downloads   int64     `json:"downloads"`
	Enrichments int64     `json:"enrichments"`
}

// GetAccount returns the key's account with its pools and usage (user key).
// It costs nothing.
func (c *Client) GetAccount(ctx context.Context) (*Account, error) {
	var out Account
	if err := c.get(ctx, "/v1/account", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EntryType is the kind of a journal entry.
type EntryType string

// The journal entry types.
const (
	EntryGrant      EntryType = "grant"
	EntryRefresh    EntryType = "refresh"
	EntryTopUp      EntryType = "topup"
	EntryAdjust     EntryType = "adjust"
	EntryReserve    EntryType = "reserve"
	EntryPost       EntryType = "post"
	EntryRelease    EntryType = "release"
	EntryOverage    EntryType = "overage"
	EntryHoldPaid   EntryType = "hold_paid"
	EntryHoldWaived EntryType = "hold_waived"
	EntryRefund     EntryType = "refund"
	// Grant entries name their grant in GrantID; so do the reserve, post
	// and release entries that move a grant's credits.
	EntryGrantAdded   EntryType = "grant_added"
	EntryGrantExpired EntryType = "grant_expired"
	EntryGrantVoided  EntryType = "grant_voided"
)

// Entry is one journal entry.
type Entry struct {
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	Type           EntryType `json:"type"`
	Pool           string    `json:"pool"`
	JobID          string    `json:"job_id,omitempty"`
	HoldID         string    `json:"hold_id,omitempty"`
	GrantID        string    `json:"grant_id,omitempty"`
	Amount         int64     `json:"amount"`
	AvailableAfter int64     `json:"available_after"`
	Reason         string    `json:"reason,omitempty"`
}

// LedgerQuery selects a page of the journal.
type LedgerQuery struct {
	// Pool keeps one pool's entries; "" all.
	Pool string
	// Limit is the page size, 1 to 1,000; 0 is the API's default (100).
	Limit int
	// Cursor is a LedgerPage's NextCursor; "" is the first page.
	Cursor string
}

// LedgerPage is a page of the journal, oldest first.
type LedgerPage struct {
	Entries []Entry `json:"entries"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
}

// Ledger returns a page of the account's journal, oldest first (user key).
func (c *Client) Ledger(ctx context.Context, q LedgerQuery) (*LedgerPage, error) {
	v := url.Values{}
	set(v, "pool", q.Pool)
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	var out LedgerPage
	if err := c.get(ctx, "/v1/account/ledger", v, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setInt(v url.Values, k string, n int) {
	if n != 0 {
		v.Set(k, strconv.Itoa(n))
	}
}

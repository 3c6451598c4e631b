package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"
)

// HoldStatus is where an overage hold is.
type HoldStatus string

// The states of a hold.
const (
	HoldUnpaid HoldStatus = "unpaid"
	HoldPaid   HoldStatus = "paid"
	HoldWaived HoldStatus = "waived"
)

// Hold is an overage hold as finance sees it.
type Hold struct {
	ID             string     `json:"id"`
	AccountID      string     `json:"account_id"`
	JobID          string     `json:"job_id"`
	Pool           string     `json:"pool"`
	OverageCredits int64      `json:"overage_credits"`
	AmountDueCents int64      `json:"amount_due_cents"`
	Status         HoldStatus `json:"status"`
	CreatedAt      time.Time  `json:"created_at"`
	// PaidAt is when the hold was paid or waived; nil while unpaid.
	PaidAt *time.Time `json:"paid_at"`
	// PaymentRef is the reference of a paid hold, "" otherwise.
	PaymentRef string `json:"payment_ref"`
	// WaiveReason is the reason of a waived hold.
	WaiveReason string `json:"waive_reason,omitempty"`
	// RefundDueCredits is, on a paid hold whose job was refunded after the
	// payment, the overage credits to pay back.
	RefundDueCredits int64 `json:"refund_due_credits,omitempty"`
}

// HoldsQuery selects holds.
type HoldsQuery struct {
	// Status keeps holds of one status; "" all.
	Status HoldStatus
	// Account keeps one account's holds; "" all.
	Account string
	// Limit is the page size, 1 to 500; 0 is the API's default (50). Not
	// taken by ExportHolds.
	Limit int
	// Cursor is a HoldPage's NextCursor. Not taken by ExportHolds.
	Cursor string
}

func (q HoldsQuery) values() url.Values {
	v := url.Values{}
	set(v, "status", string(q.Status))
	set(v, "account", q.Account)
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	return v
}

// HoldPage is a page of holds, newest first.
type HoldPage struct {
	Holds []Hold `json:"holds"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
	// TotalDueCents sums the amount due of the unpaid holds the filter
	// selects, over every page.
	TotalDueCents int64 `json:"total_due_cents"`
}

// ListHolds returns a page of overage holds (finance or admin key).
func (c *Client) ListHolds(ctx context.Context, q HoldsQuery) (*HoldPage, error) {
	var out HoldPage
	if err := c.get(ctx, "/v1/holds", q.values(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PayHoldRequest is the body of POST /v1/holds/{id}/pay.
type PayHoldRequest struct {
	// PaymentRef names the payment, such as an invoice number.
	PaymentRef string `json:"payment_ref"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	IdempotencyKey string `json:"-"`
}

// PayHold marks a hold paid, which releases its job's results at once, and
// returns it (finance or admin key). Paying a paid hold changes nothing.
func (c *Client) PayHold(ctx context.Context, id string, req PayHoldRequest) (*Hold, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Hold
	if err := c.post(ctx, "/v1/holds/"+pathEscape(id)+"/pay", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WaiveHoldRequest is the body of POST /v1/holds/{id}/waive.
type WaiveHoldRequest struct {
	// Reason says why the debt is cleared.
	Reason string `json:"reason"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one.
	IdempotencyKey string `json:"-"`
}

// WaiveHold marks a hold waived, which releases its job's results and
// clears the debt, and returns it (finance or admin key).
func (c *Client) WaiveHold(ctx context.Context, id string, req WaiveHoldRequest) (*Hold, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Hold
	if err := c.post(ctx, "/v1/holds/"+pathEscape(id)+"/waive", req.IdempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportHolds returns every hold q selects (Status, Account; no paging) as
// CSV with a header row, newest first (finance or admin key). The caller
// reads and closes it.
func (c *Client) ExportHolds(ctx context.Context, q HoldsQuery) (io.ReadCloser, error) {
	q.Limit, q.Cursor = 0, ""
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/holds.csv", query: q.values(), accept: "text/csv"})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

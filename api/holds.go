package api

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Holds is what finance needs of the jobs service; *jobs.Service implements
// it, as part of Jobs.
type Holds interface {
	// PayHold marks a hold paid and re-tags its job's result objects.
	// Paying a paid hold changes nothing and keeps the first reference.
	// Returns a *jobs.FieldError ("payment_ref"), credit.ErrHoldNotFound,
	// credit.ErrInvalidID, or an error wrapping credit.ErrHoldConflict for a
	// waived hold. A *jobs.RetagError comes with the paid hold: the payment
	// stands and only the tags lag.
	PayHold(ctx context.Context, id, paymentRef string) (credit.Hold, error)
	// WaiveHold marks a hold waived, as PayHold pays it. Returns a
	// *jobs.FieldError ("reason"), credit.ErrHoldNotFound,
	// credit.ErrInvalidID, or an error wrapping credit.ErrHoldConflict for a
	// paid hold; a *jobs.RetagError as PayHold does.
	WaiveHold(ctx context.Context, id, reason string) (credit.Hold, error)
	// ListHolds returns a page of holds, newest first, with the amount due
	// over every page. Returns an error wrapping credit.ErrInvalidCursor,
	// credit.ErrInvalidStatus or credit.ErrInvalidID.
	ListHolds(ctx context.Context, f credit.HoldFilter) (credit.HoldPage, error)
	// EachHold calls fn with every hold the filter selects by status and
	// account, newest first, and stops at fn's first error. Returns an
	// error wrapping credit.ErrInvalidStatus or credit.ErrInvalidID before
	// fn is called.
	EachHold(ctx context.Context, f credit.HoldFilter, fn func(credit.Hold) error) error
}

// staff are the roles that work the overage holds.
var staff = []Role{RoleFinance, RoleAdmin}

// holdRow is a hold as GET /v1/holds lists it and the pay and waive
// endpoints answer it.
type holdRow struct {
	ID             string            `json:"id"`
	AccountID      string            `json:"account_id"`
	JobID          string            `json:"job_id"`
	Pool           string            `json:"pool"`
	OverageCredits int64             `json:"overage_credits"`
	AmountDueCents int64             `json:"amount_due_cents"`
	Status         credit.HoldStatus `json:"status"`
	CreatedAt      time.Time         `json:"created_at"`
	// PaidAt is when the hold was paid or waived; null while unpaid.
	PaidAt *time.Time `json:"paid_at"`
	// PaymentRef is null unless the hold is paid.
	PaymentRef *string `json:"payment_ref"`
	// WaiveReason is present on a waived hold only.
	WaiveReason string `json:"waive_reason,omitempty"`
	// RefundDueCredits is present on a paid hold whose job was refunded
	// after the payment: the overage credits to pay back.
	RefundDueCredits int64 `json:"refund_due_credits,omitempty"`
}

func newHoldRow(h credit.Hold) holdRow {
	r := holdRow{
		ID: h.ID, AccountID: h.Account, JobID: h.JobID, Pool: h.Pool,
		OverageCredits: h.OverageCredits, AmountDueCents: h.AmountDueCents, Status: h.Status,
		CreatedAt: h.CreatedAt.UTC(), PaidAt: utc(&h.PaidAt), WaiveReason: h.WaiveReason,
		RefundDueCredits: h.RefundDueCredits,
	}
	if h.PaymentRef != "" {
		ref := h.PaymentRef
		r.PaymentRef = &ref
	}
	return r
}

// holdFilter reads the filter of GET /v1/holds and /v1/holds.csv. Without
// status it selects every status.
func holdFilter(c *call, defLimit, maxLimit int) (credit.HoldFilter, error) {
	q := c.r.URL.Query()
	f := credit.HoldFilter{Status: credit.HoldStatus(q.Get("status")), Account: q.Get("account"), Cursor: q.Get("cursor")}
	if !oneOf(f.Status, credit.HoldUnpaid, credit.HoldPaid, credit.HoldWaived) {
		return f, fieldError("status", "must be unpaid, paid or waived")
	}
	if f.Account != "" && credit.CheckID("account", f.Account) != nil {
		return f, fieldError("account", "is not an account id")
	}
	var err error
	f.Limit, err = limitParam(q.Get("limit"), defLimit, maxLimit)
	return f, err
}

// listHolds is GET /v1/holds: a page of holds of every account (or one),
// newest first, and total_due_cents over every page the filter selects.
func (s *Server) listHolds(c *call) (int, any, error) {
	f, err := holdFilter(c, 50, 500)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.jobs.ListHolds(c.r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	rows := make([]holdRow, 0, len(page.Holds))
	for _, h := range page.Holds {
		rows = append(rows, newHoldRow(h))
	}
	return http.StatusOK, map[string]any{
		"holds": rows, "next_cursor": cursor(page.NextCursor), "total_due_cents": page.TotalDueCents,
	}, nil
}

// payRequest is the body of POST /v1/holds/{id}/pay.
type payRequest struct {
	PaymentRef string `json:"payment_ref"`
}

// waiveRequest is the body of POST /v1/holds/{id}/waive.
type waiveRequest struct {
	Reason string `json:"reason"`
}

// payHold is POST /v1/holds/{id}/pay: 200 and the paid hold; the job's
// results are available at once. Paying again answers the hold as it is.
func (s *Server) payHold(c *call) (int, any, error) {
	var req payRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	h, err := s.jobs.PayHold(c.r.Context(), c.r.PathValue("id"), req.PaymentRef)
	return s.closedHold(c, h, err)
}

// waiveHold is POST /v1/holds/{id}/waive: 200 and the waived hold.
func (s *Server) waiveHold(c *call) (int, any, error) {
	var req waiveRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	h, err := s.jobs.WaiveHold(c.r.Context(), c.r.PathValue("id"), req.Reason)
	return s.closedHold(c, h, err)
}

// closedHold answers a pay or a waive. Tags that could not be set do not
// fail it: the hold is closed, and the healing pass sets them.
func (s *Server) closedHold(c *call, h credit.Hold, err error) (int, any, error) {
	if re, ok := errors.AsType[*jobs.RetagError](err); ok {
		s.log.Warn("api: hold closed, its result tags lag until healed", "hold", re.HoldID, "keys", re.Keys, "err", re.Err)
		err = nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newHoldRow(h), nil
}

// holdsCSVHeader is the header row of GET /v1/holds.csv: the fields of a
// listed hold, in order.
var holdsCSVHeader = []string{"id", "account_id", "job_id", "pool", "overage_credits", "amount_due_cents",
	"status", "created_at", "paid_at", "payment_ref", "waive_reason"}

// exportPage is the largest limit the export accepts; it has every row
// whatever the limit.
const exportPage = 1000

// exportHolds is GET /v1/holds.csv: every hold the filter selects (status,
// account; no paging), newest first, as CSV with a header row. It takes a
// key and runs through answer like every /v1 route, but writes CSV.
//
// It walks the holds once, a chunk at a time (EachHold), and writes each row
// as it is read, so neither the holds nor the file are ever all in memory.
// An error before the first row answers as any request's error does; one
// after it cuts the file short, as the status is sent.
func (s *Server) exportHolds(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r}
	var cw *csv.Writer
	start := func() error {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="holds.csv"`)
		w.WriteHeader(http.StatusOK)
		cw = csv.NewWriter(w)
		return cw.Write(holdsCSVHeader)
	}
	resp := s.answer(c, route{roles: staff, h: func(c *call) (int, any, error) {
		// A limit is checked as it was when the export read pages of
		// it, and then has no effect.
		f, err := holdFilter(c, exportPage, exportPage)
		if err != nil {
			return 0, nil, err
		}
		if f.Cursor != "" {
			return 0, nil, fieldError("cursor", "is not taken by the export, which has every row")
		}
		err = s.jobs.EachHold(c.r.Context(), f, func(h credit.Hold) error {
			if cw == nil {
				if err := start(); err != nil {
					return err
				}
			}
			return cw.Write(holdCSVRow(newHoldRow(h)))
		})
		if err != nil && cw == nil {
			return 0, nil, err
		}
		if err == nil && cw == nil {
			err = start() // no hold: the header row alone
		}
		if err == nil {
			cw.Flush()
			err = cw.Error()
		}
		if err != nil {
			// The status is sent; the client sees a cut file.
			s.log.Warn("api: holds export cut short", "err", err)
		}
		return http.StatusOK, nil, nil
	}})
	if cw == nil {
		s.write(c, resp)
	}
}

// holdCSVRow is a listed hold as a CSV row: times as JSON writes them
// (RFC 3339), empty for null. A free-text cell that a spreadsheet would
// read as a formula (=, +, -, @, tab, CR) starts with a quote.
func holdCSVRow(h holdRow) []string {
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	ref := ""
	if h.PaymentRef != nil {
		ref = *h.PaymentRef
	}
	return []string{h.ID, h.AccountID, h.JobID, h.Pool,
		strconv.FormatInt(h.OverageCredits, 10), strconv.FormatInt(h.AmountDueCents, 10),
		string(h.Status), ts(&h.CreatedAt), ts(h.PaidAt), spreadsheetSafe(ref), spreadsheetSafe(h.WaiveReason)}
}

func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

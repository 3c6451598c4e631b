package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// holdsPageSize is the holds one page lists.
const holdsPageSize = 50

// holdsView is the holds page.
type holdsView struct {
	Status  string
	Account string
	Holds   []holdRow
	// TotalDueCents is what the unpaid holds of the filter owe, over
	// every page.
	TotalDueCents int64
	Unpaid        int
	Next          string
	// NextURL is the next page's address, "" on the last page.
	NextURL string
	// Query is the page's filter as a query string, for the forms to come
	// back to.
	Query string
	// Total is the line of what the unpaid holds owe.
	Total totalDue
}

// holdRow is one hold of the list, with where its forms return.
type holdRow struct {
	credit.Hold
	CSRF  string
	Query string
	// Note says what was just done to it.
	Note string
}

// totalDue is the line that says what the unpaid holds of a list owe.
type totalDue struct {
	Cents int64
	// Pages says the list has more than one page; the total covers them all.
	Pages bool
	// OOB swaps it in out of band, with a hold's row closed in place.
	OOB bool
}

// closedRow is the answer to a pay or a waive made in place.
type closedRow struct {
	Row   holdRow
	Total totalDue
}

// Unpaid reports whether the hold still owes its amount.
func (h holdRow) Unpaid() bool { return h.Status == credit.HoldUnpaid }

// holdsPage is GET /console/holds?status=&account=&cursor=.
func (c *Console) holdsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := credit.HoldFilter{Status: credit.HoldStatus(q.Get("status")), Account: q.Get("account"), Cursor: q.Get("cursor"), Limit: holdsPageSize}
	if f.Status != "" && !f.Status.Valid() {
		f.Status = ""
	}
	back := filterQuery(string(f.Status), f.Account)
	page, err := c.cfg.Jobs.ListHolds(r.Context(), f)
	switch {
	case errors.Is(err, credit.ErrInvalidID):
		c.fail(w, r, s, http.StatusBadRequest, "That is not an account id. Account ids are letters, digits, - and _, such as acme.")
		return
	case errors.Is(err, credit.ErrInvalidCursor):
		http.Redirect(w, r, "/console/holds"+back, http.StatusSeeOther)
		return
	case err != nil:
		c.unavailable(w, r, s, "list holds", err)
		return
	}
	v := holdsView{Status: string(f.Status), Account: f.Account, TotalDueCents: page.TotalDueCents, Next: page.NextCursor, Query: back,
		Total: totalDue{Cents: page.TotalDueCents, Pages: page.NextCursor != ""}}
	if page.NextCursor != "" {
		sep := "?"
		if back != "" {
			sep = "&"
		}
		v.NextURL = "/console/holds" + back + sep + "cursor=" + url.QueryEscape(page.NextCursor)
	}
	for _, h := range page.Holds {
		row := holdRow{Hold: h, CSRF: s.CSRF, Query: back}
		if h.ID == q.Get("closed") {
			row.Note = closedNote(h)
		}
		if h.Status == credit.HoldUnpaid {
			v.Unpaid++
		}
		v.Holds = append(v.Holds, row)
	}
	flash := ""
	if id := q.Get("closed"); id != "" {
		if h, err := c.cfg.Ledger.Hold(r.Context(), id); err == nil {
			flash = "Hold " + h.ID + ": " + closedNote(h)
		}
	}
	c.render(w, r, http.StatusOK, "holds", frame{Title: "Overage holds", Session: s, CSRF: s.CSRF, Nav: "holds", Flash: flash, Data: v})
}

// closedNote says what became of a hold that was just paid or waived.
func closedNote(h credit.Hold) string {
	switch h.Status {
	case credit.HoldPaid:
		return "paid (reference " + h.PaymentRef + "); the job's files are released."
	case credit.HoldWaived:
		return "waived (" + h.WaiveReason + "); the job's files are released."
	}
	return "still unpaid."
}

// payHold is POST /console/holds/{id}/pay with payment_ref.
func (c *Console) payHold(w http.ResponseWriter, r *http.Request, s *session) {
	h, err := c.cfg.Jobs.PayHold(r.Context(), r.PathValue("id"), r.PostFormValue("payment_ref"))
	c.closed(w, r, s, h, err)
}

// waiveHold is POST /console/holds/{id}/waive with reason.
func (c *Console) waiveHold(w http.ResponseWriter, r *http.Request, s *session) {
	h, err := c.cfg.Jobs.WaiveHold(r.Context(), r.PathValue("id"), r.PostFormValue("reason"))
	c.closed(w, r, s, h, err)
}

// closed answers a pay or a waive: the hold's row again for htmx, which
// swaps it in place; otherwise a redirect to the list it was posted from,
// which says what was done. Tags that lag do not fail it: the hold is
// closed, and the scheduler heals them.
func (c *Console) closed(w http.ResponseWriter, r *http.Request, s *session, h credit.Hold, err error) {
	if re, ok := errors.AsType[*jobs.RetagError](err); ok {
		c.log.Warn("console: hold closed, its result tags lag until healed", "hold", re.HoldID, "err", re.Err)
		err = nil
	}
	if fe, ok := errors.AsType[*jobs.FieldError](err); ok {
		c.fail(w, r, s, http.StatusBadRequest, "Nothing was changed: the "+fieldLabel(fe.Field)+" "+fe.Message+". Go back and fill it in.")
		return
	}
	switch {
	case errors.Is(err, credit.ErrHoldNotFound), errors.Is(err, credit.ErrInvalidID):
		c.fail(w, r, s, http.StatusNotFound, "There is no such hold. It may have been listed under another id; open the holds list again.")
		return
	case errors.Is(err, credit.ErrHoldConflict):
		c.fail(w, r, s, http.StatusConflict, "Nothing was changed: this hold was already closed the other way (a paid hold cannot be waived, nor a waived one paid).")
		return
	case err != nil:
		c.unavailable(w, r, s, "close a hold", err)
		return
	}
	back := r.PostFormValue("back")
	if _, perr := url.ParseQuery(back); perr != nil || len(back) > 500 {
		back = ""
	}
	if r.Header.Get("HX-Request") == "true" {
		row := holdRow{Hold: h, CSRF: s.CSRF, Query: back, Note: closedNote(h)}
		// The list's total due changed too: it comes along, out of band,
		// unless the list's filter cannot be read back.
		q, _ := url.ParseQuery(strings.TrimPrefix(back, "?"))
		f := credit.HoldFilter{Status: credit.HoldStatus(q.Get("status")), Account: q.Get("account"), Limit: 1}
		if f.Status != "" && !f.Status.Valid() {
			f.Status = ""
		}
		page, err := c.cfg.Jobs.ListHolds(r.Context(), f)
		if err != nil {
			c.renderTemplate(w, http.StatusOK, "holds", "holdrow", row)
			return
		}
		c.renderTemplate(w, http.StatusOK, "holds", "closedrow", closedRow{Row: row,
			Total: totalDue{Cents: page.TotalDueCents, Pages: page.NextCursor != "", OOB: true}})
		return
	}
	sep := "?"
	if back != "" {
		sep = "&"
	}
	http.Redirect(w, r, "/console/holds"+back+sep+"closed="+url.QueryEscape(h.ID), http.StatusSeeOther)
}

func fieldLabel(field string) string {
	if field == "payment_ref" {
		return "payment reference"
	}
	return field
}

// filterQuery is a holds filter as a query string ("" for none).
func filterQuery(status, account string) string {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	if account != "" {
		v.Set("account", account)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// unavailable logs a failure of the backends and says so.
func (c *Console) unavailable(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	c.log.Error("console: "+what, "path", r.URL.Path, "err", err)
	c.fail(w, r, s, http.StatusServiceUnavailable, "The console cannot reach its store right now, so nothing was changed. Try again in a moment.")
}

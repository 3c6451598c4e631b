package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Page sizes of the account page.
const (
	accountJobs    = 20
	accountHolds   = 20
	accountJournal = 25
)

// accountView is an account's page.
type accountView struct {
	Account jobs.Account
	Pools   []poolView
	Jobs    []jobRow
	// Live is set while a listed job is queued or running: the list
	// refreshes itself.
	Live     bool
	NextJobs string
	Holds    []credit.Hold
	Grants   []credit.Grant
	// DueCents is what the account's unpaid holds owe.
	DueCents int64
	Journal  []credit.Entry
	// JournalCursor is the page shown, NextJournal the one after it.
	JournalCursor string
	NextJournal   string
	// Path is the page's own path, for its paging links.
	Path string
}

// poolView is a pool with the widths of its bar, in thousandths: used,
// reserved and available of the period allocation, then what grants can
// give.
type poolView struct {
	credit.Pool
	Available, AllocationAvailable        int64
	UsedW, ReservedW, AvailableW, GrantsW int64
	ReservedX, AvailableX, GrantsX        int64
	OverageUsedW, OverageFreeW            int64
	OverageHeadroom, OverageTotal         int64
}

func newPoolView(p credit.Pool) poolView {
	v := poolView{Pool: p, Available: max(p.Available(), 0), AllocationAvailable: max(p.AllocationAvailable(), 0),
		OverageHeadroom: p.Headroom(), OverageTotal: p.OverageOutstanding + p.OverageReserved}
	grants := max(p.GrantsAvailable, 0)
	total := max(p.Allocated, p.Used+p.Reserved+v.AllocationAvailable) + grants
	if total > 0 {
		v.UsedW = min(p.Used*1000/total, 1000)
		v.ReservedW = min(p.Reserved*1000/total, 1000-v.UsedW)
		v.GrantsW = min(grants*1000/total, 1000-v.UsedW-v.ReservedW)
		v.AvailableW = 1000 - v.UsedW - v.ReservedW - v.GrantsW
	}
	v.ReservedX, v.AvailableX = v.UsedW, v.UsedW+v.ReservedW
	v.GrantsX = v.AvailableX + v.AvailableW
	if p.OverageEnabled && p.OverageLimit > 0 {
		v.OverageUsedW = min(v.OverageTotal*1000/p.OverageLimit, 1000)
		v.OverageFreeW = 1000 - v.OverageUsedW
	}
	return v
}

// jobRow is a job in a list, with where its page is.
type jobRow struct {
	jobs.Job
	Path string
	// Held is set while an unpaid overage hold keeps its results back.
	Held bool
}

// Active reports whether the job is still to end.
func (j jobRow) Active() bool { return j.Status == jobs.Queued || j.Status == jobs.Running }

// Percent is how far the job is, 0 to 100.
func (j jobRow) Percent() int64 {
	if j.Progress.Total <= 0 {
		if j.Status == jobs.Succeeded {
			return 100
		}
		return 0
	}
	return min(j.Progress.Done*100/j.Progress.Total, 100)
}

// mayOpen reports whether a session may see an account: staff see every
// account, a user key its own only.
func mayOpen(s *session, account string) bool {
	return s.Role != api.RoleUser || s.Account == account
}

// accountPage is GET /console/accounts/{id}?jobs=&journal=: the pools, the
// jobs, the holds and the journal. Another account's page is 404 to a
// user key, as an unknown account's is.
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !mayOpen(s, id) {
		c.notFound(w, r, s)
		return
	}
	acct, err := c.cfg.Jobs.Account(ctx, id)
	if errors.Is(err, jobs.ErrNotFound) || errors.Is(err, credit.ErrInvalidID) {
		c.notFound(w, r, s)
		return
	}
	if err != nil {
		c.unavailable(w, r, s, "read an account", err)
		return
	}
	q := r.URL.Query()
	v := accountView{Account: acct, Path: accountPath(id), JournalCursor: q.Get("journal")}
	pools, err := c.cfg.Ledger.Pools(ctx, id)
	if err != nil && !errors.Is(err, credit.ErrUnknownAccount) {
		c.unavailable(w, r, s, "read pools", err)
		return
	}
	slices.SortFunc(pools, func(a, b credit.Pool) int { return compareStrings(a.Name, b.Name) })
	for _, p := range pools {
		v.Pools = append(v.Pools, newPoolView(p))
	}
	if len(pools) > 0 {
		if v.Grants, err = c.cfg.Ledger.Grants(ctx, id); err != nil && !errors.Is(err, credit.ErrUnknownAccount) {
			c.unavailable(w, r, s, "read grants", err)
			return
		}
	}
	list, next, err := c.cfg.Jobs.List(ctx, id, jobs.ListFilter{Limit: accountJobs, Cursor: q.Get("jobs")})
	if errors.Is(err, jobs.ErrInvalidCursor) {
		list, next, err = c.cfg.Jobs.List(ctx, id, jobs.ListFilter{Limit: accountJobs})
	}
	if err != nil {
		c.unavailable(w, r, s, "list jobs", err)
		return
	}
	v.NextJobs = next
	for _, j := range list {
		row := jobRow{Job: j, Path: jobPath(id, j.ID)}
		if j.HoldID != "" {
			h, err := c.cfg.Jobs.Hold(ctx, j)
			if err != nil {
				c.unavailable(w, r, s, "read a hold", err)
				return
			}
			row.Held = h != nil && h.Status == credit.HoldUnpaid
		}
		v.Live = v.Live || row.Active()
		v.Jobs = append(v.Jobs, row)
	}
	holds, err := c.cfg.Jobs.ListHolds(ctx, credit.HoldFilter{Account: id, Limit: accountHolds})
	if err != nil {
		c.unavailable(w, r, s, "list holds", err)
		return
	}
	v.Holds, v.DueCents = holds.Holds, holds.TotalDueCents
	entries, nextEntries, err := c.cfg.Ledger.Journal(ctx, id, ledger.JournalQuery{Limit: accountJournal, Cursor: v.JournalCursor})
	if errors.Is(err, credit.ErrInvalidCursor) {
		v.JournalCursor = ""
		entries, nextEntries, err = c.cfg.Ledger.Journal(ctx, id, ledger.JournalQuery{Limit: accountJournal})
	}
	if err != nil {
		c.unavailable(w, r, s, "read the journal", err)
		return
	}
	v.Journal, v.NextJournal = entries, nextEntries
	title := acct.Name
	if title == "" {
		title = acct.ID
	}
	nav := "account"
	if s.Staff() {
		nav = ""
	}
	c.render(w, r, http.StatusOK, "account", frame{Title: title, Session: s, CSRF: s.CSRF, Nav: nav, Data: v})
}

// notFound is the 404 of an unknown id and of another account's, alike.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	c.fail(w, r, s, http.StatusNotFound, "There is no such page here. Check the address, or go back to the start.")
}

func accountPath(id string) string { return "/console/accounts/" + id }

func jobPath(account, job string) string { return accountPath(account) + "/jobs/" + job }

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// jobView is a job's page.
type jobView struct {
	Job         jobRow
	AccountPath string
	Hold        *credit.Hold
	// Held is set while an unpaid hold keeps the results back.
	Held    bool
	Files   []fileView
	Records int
}

// fileView is one released result file and its link.
type fileView struct {
	URL       string
	ExpiresAt time.Time
	Format    jobs.Format
	Records   int64
	Bytes     int64
}

// jobPage is GET /console/accounts/{id}/jobs/{job}: progress, cost, what
// was released, the hold, and the files once they are released (never
// while a hold is unpaid, as the API).
func (c *Console) jobPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	acct := r.PathValue("id")
	if !mayOpen(s, acct) {
		c.notFound(w, r, s)
		return
	}
	j, err := c.cfg.Jobs.Get(ctx, acct, r.PathValue("job"))
	if errors.Is(err, jobs.ErrNotFound) || errors.Is(err, credit.ErrInvalidID) {
		c.notFound(w, r, s)
		return
	}
	if err != nil {
		c.unavailable(w, r, s, "read a job", err)
		return
	}
	v := jobView{Job: jobRow{Job: j, Path: jobPath(acct, j.ID)}, AccountPath: accountPath(acct)}
	if j.HoldID != "" {
		if v.Hold, err = c.cfg.Jobs.Hold(ctx, j); err != nil {
			c.unavailable(w, r, s, "read a hold", err)
			return
		}
	}
	v.Held = v.Hold != nil && v.Hold.Status == credit.HoldUnpaid
	if j.Status == jobs.Succeeded && !v.Held {
		for _, f := range j.Results {
			url, exp, err := c.cfg.Storage.URL(ctx, f.Key, c.cfg.LinkTTL)
			if err != nil {
				c.unavailable(w, r, s, "make a result link", err)
				return
			}
			v.Files = append(v.Files, fileView{URL: url, ExpiresAt: exp, Format: f.Format, Records: f.Records, Bytes: f.Bytes})
		}
		if j.Kind == jobs.Search {
			var recs []json.RawMessage
			if json.Unmarshal(j.Records, &recs) == nil {
				v.Records = len(recs)
			}
		}
	}
	c.render(w, r, http.StatusOK, "job", frame{Title: "Job " + j.ID, Session: s, CSRF: s.CSRF, Data: v})
}

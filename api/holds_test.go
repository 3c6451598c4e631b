package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
)

// newFinanceEnv is newEnv with a jobs service that re-tags result objects
// in the env's local storage when a hold is paid or waived, as app.go
// wires it: the local backend refuses a file tagged unpaid.
func newFinanceEnv(t testing.TB) *env {
	t.Helper()
	var svc *jobs.Service
	e := newEnv(t, func(cfg *api.Config) {
		l := ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		svc = jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: &jobstest.Queue{}, Accounts: js, Catalog: plan.Builtin(),
			Objects: cfg.Storage.(*storage.Local), ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }})
		cfg.Jobs = svc
	})
	e.svc = svc
	return e
}

// financeKey makes a finance key through the API.
func (e *env) financeKey(t testing.TB) string {
	t.Helper()
	r := e.do(t, req{method: "POST", path: "/v1/keys", key: e.admin, body: map[string]any{"role": "finance"}})
	if r.status != http.StatusCreated {
		t.Fatalf("finance key: %d %s", r.status, r.body)
	}
	return r.json(t)["api_key"].(string)
}

// heldJob submits a download of 2+over people with 2 credits left (the
// people-1k-99 plan: overage up to 100 at 10 cents), runs it as a worker
// would, with one result file tagged unpaid, and returns the job and hold
// ids.
func (e *env) heldJob(t testing.TB, acct, key string, over int64) (string, string) {
	t.Helper()
	e.setAvailable(t, acct, "people", 2)
	s := e.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "num_records": 2 + over, "on_insufficient": "overage"})
	id := s.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	obj := storage.ResultKey(acct, id, 1, jobs.CSV)
	n, err := e.store.Put(ctx, obj, strings.NewReader("id\nper_00000001\n"), storage.PutOptions{
		ContentType: "text/csv", Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: 2 + over, Delivered: 2 + over,
		Results: []jobs.ResultFile{{Key: obj, Format: jobs.CSV, Records: 1, Bytes: n}}})
	if err != nil {
		t.Fatal(err)
	}
	if j.HoldID == "" {
		t.Fatalf("job %s went %d over and has no hold", id, over)
	}
	return id, j.HoldID
}

// holdTag is the hold tag of a job's first result file.
func (e *env) holdTag(t testing.TB, acct, job string) string {
	t.Helper()
	m, err := e.store.Tags(ctx, storage.ResultKey(acct, job, 1, jobs.CSV))
	if err != nil {
		t.Fatal(err)
	}
	return m[storage.HoldTag]
}

// holdsPage is GET /v1/holds decoded.
type holdsPage struct {
	Holds         []map[string]any `json:"holds"`
	NextCursor    *string          `json:"next_cursor"`
	TotalDueCents *int64           `json:"total_due_cents"`
}

func (e *env) holds(t testing.TB, key, query string) holdsPage {
	t.Helper()
	r := e.do(t, req{method: "GET", path: "/v1/holds" + query, key: key})
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/holds%s: %d %s", query, r.status, r.body)
	}
	var p holdsPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Holds == nil || p.TotalDueCents == nil {
		t.Fatalf("GET /v1/holds%s: %s lacks holds or total_due_cents", query, r.body)
	}
	return p
}

// allHolds walks every page of a listing, checking that each page tells the
// same total, and returns the rows and the total.
func (e *env) allHolds(t testing.TB, key, query string, limit int) ([]map[string]any, int64) {
	t.Helper()
	sep := "?"
	if query != "" {
		sep = "&"
	}
	var rows []map[string]any
	var total int64 = -1
	cur := ""
	for range 100 {
		q := query + sep + "limit=" + strconv.Itoa(limit)
		if cur != "" {
			q += "&cursor=" + cur
		}
		p := e.holds(t, key, q)
		if len(p.Holds) > limit {
			t.Fatalf("a page of %d holds with limit %d", len(p.Holds), limit)
		}
		if total != -1 && *p.TotalDueCents != total {
			t.Errorf("total_due_cents %d on one page, %d on another", *p.TotalDueCents, total)
		}
		total = *p.TotalDueCents
		rows = append(rows, p.Holds...)
		if p.NextCursor == nil {
			return rows, total
		}
		cur = *p.NextCursor
	}
	t.Fatal("no last page after 100")
	return nil, 0
}

func holdIDs(rows []map[string]any) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r["id"].(string))
	}
	return out
}

// peoplePool is the people pool as GET /v1/account shows it to key.
func (e *env) peoplePool(t testing.TB, key string) map[string]any {
	t.Helper()
	r := e.do(t, req{method: "GET", path: "/v1/account", key: key})
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/account: %d %s", r.status, r.body)
	}
	p, ok := r.json(t)["pools"].(map[string]any)["people"].(map[string]any)
	if !ok {
		t.Fatalf("no people pool: %s", r.body)
	}
	return p
}

// journal is every entry of the account's journal, as key reads it.
func (e *env) journal(t testing.TB, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	path := "/v1/account/ledger?limit=1000"
	for range 100 {
		r := e.do(t, req{method: "GET", path: path, key: key})
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		var page struct {
			Entries    []map[string]any `json:"entries"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.NextCursor == nil {
			return out
		}
		path = "/v1/account/ledger?limit=1000&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatal("no last page of the journal after 100")
	return nil
}

// fetchURL GETs a result link with no key and returns the body.
func fetchURL(t testing.TB, link string) string {
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", link, resp.StatusCode, b, err)
	}
	return string(b)
}

// TestHoldsList lists holds of two accounts with every filter, across
// pages, with total_due_cents over all of them.
func TestHoldsList(t *testing.T) {
	e := newFinanceEnv(t)
	fin := e.financeKey(t)
	a, ka := e.account(t, "people-1k-99")
	b, kb := e.account(t, "people-1k-99")
	var held []string // oldest first
	var jobsOf = map[string]string{}
	for _, x := range []struct {
		acct, key string
		over      int64
	}{{a, ka, 1}, {b, kb, 4}, {a, ka, 2}, {a, ka, 3}} {
		job, h := e.heldJob(t, x.acct, x.key, x.over)
		held, jobsOf[h] = append(held, h), job
	}
	newestFirst := []string{held[3], held[2], held[1], held[0]}

	rows, total := e.allHolds(t, fin, "", 3)
	if !cmp.Equal(holdIDs(rows), newestFirst) || total != 100 {
		t.Errorf("all holds %v total %d, want %v and 100 cents", holdIDs(rows), total, newestFirst)
	}
	r := rows[0]
	want := map[string]any{"id": held[3], "account_id": a, "job_id": jobsOf[held[3]], "pool": "people",
		"overage_credits": 3.0, "amount_due_cents": 30.0, "status": "unpaid", "paid_at": nil, "payment_ref": nil}
	for k, v := range want {
		if !cmp.Equal(r[k], v) {
			t.Errorf("row %s = %v, want %v", k, r[k], v)
		}
	}
	if _, ok := r["created_at"].(string); !ok || len(r) != 10 {
		t.Errorf("row %v: want exactly the 10 fields of API.md", r)
	}

	// Admin keys list too; each page of one tells the total of all.
	if rows, total := e.allHolds(t, e.admin, "", 1); len(rows) != 4 || total != 100 {
		t.Errorf("admin, one a page: %d rows, total %d", len(rows), total)
	}
	if rows, total := e.allHolds(t, fin, "?account="+b, 50); !cmp.Equal(holdIDs(rows), []string{held[1]}) || total != 40 {
		t.Errorf("account %s: %v total %d", b, holdIDs(rows), total)
	}

	// Pay one and waive one: the filters follow.
	if r := e.do(t, req{method: "POST", path: "/v1/holds/" + held[2] + "/pay", key: fin, body: map[string]any{"payment_ref": "inv_2"}}); r.status != http.StatusOK {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if r := e.do(t, req{method: "POST", path: "/v1/holds/" + held[1] + "/waive", key: fin, body: map[string]any{"reason": "goodwill"}}); r.status != http.StatusOK {
		t.Fatalf("waive: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		query string
		ids   []string
		total int64
	}{
		// Due means unpaid: total_due_cents counts the unpaid holds only,
		// whatever the filter lists.
		{"?status=unpaid", []string{held[3], held[0]}, 40},
		{"?status=paid", []string{held[2]}, 0},
		{"?status=waived", []string{held[1]}, 0},
		{"?status=unpaid&account=" + b, []string{}, 0},
		{"?status=paid&account=" + a, []string{held[2]}, 0},
		{"?account=" + a, []string{held[3], held[2], held[0]}, 40},
		{"?account=nobody", []string{}, 0},
		{"", newestFirst, 40},
	} {
		rows, total := e.allHolds(t, fin, c.query, 1)
		if !cmp.Equal(holdIDs(rows), c.ids) || total != c.total {
			t.Errorf("%q: %v total %d, want %v and %d", c.query, holdIDs(rows), total, c.ids, c.total)
		}
	}
	paid := e.holds(t, fin, "?status=paid").Holds[0]
	if paid["payment_ref"] != "inv_2" || paid["paid_at"] == nil || paid["waive_reason"] != nil {
		t.Errorf("paid row %v", paid)
	}
	waived := e.holds(t, fin, "?status=waived").Holds[0]
	if waived["payment_ref"] != nil || waived["paid_at"] == nil || waived["waive_reason"] != "goodwill" {
		t.Errorf("waived row %v", waived)
	}

	// Bad filters.
	for _, c := range []struct{ query, field string }{
		{"?status=late", "status"}, {"?status=none", "status"}, {"?account=a:b", "account"},
		{"?limit=0", "limit"}, {"?limit=501", "limit"}, {"?cursor=hold_nope", "cursor"},
	} {
		d := e.do(t, req{method: "GET", path: "/v1/holds" + c.query, key: fin}).error(t, http.StatusBadRequest, "invalid_request")
		if d["field"] != c.field {
			t.Errorf("%s: details %v, want field %s", c.query, d, c.field)
		}
	}
	e.checkInvariants(t, a)
	e.checkInvariants(t, b)
}

// TestHoldsRoles: only finance and admin keys reach the holds; a user key,
// even of the hold's own account, gets 403, and no key 401.
func TestHoldsRoles(t *testing.T) {
	e := newFinanceEnv(t)
	a, key := e.account(t, "people-1k-99")
	_, h := e.heldJob(t, a, key, 1)
	for _, rq := range []req{
		{method: "GET", path: "/v1/holds"},
		{method: "GET", path: "/v1/holds.csv"},
		{method: "POST", path: "/v1/holds/" + h + "/pay", body: map[string]any{"payment_ref": "inv_1"}},
		{method: "POST", path: "/v1/holds/" + h + "/waive", body: map[string]any{"reason": "r"}},
	} {
		rq.key = key
		e.do(t, rq).error(t, http.StatusForbidden, "forbidden")
		rq.key = ""
		e.do(t, rq).error(t, http.StatusUnauthorized, "unauthorized")
	}
	if got := e.holds(t, e.admin, "?status=unpaid"); len(got.Holds) != 1 {
		t.Errorf("the hold after refused calls: %v", got.Holds)
	}
}

// TestPayReleasesResults follows one hold: results 402 while unpaid; pay
// over HTTP with an Idempotency-Key; the results at once, their link
// fetching the file; the debt gone from the pool and hold_paid in the
// journal; paying again harmless; waiving it a conflict. Then a second hold
// is waived, and paying it is a conflict.
func TestPayReleasesResults(t *testing.T) {
	e := newFinanceEnv(t)
	fin := e.financeKey(t)
	a, key := e.account(t, "people-1k-99")
	job, h := e.heldJob(t, a, key, 3)

	d := e.do(t, req{method: "GET", path: "/v1/jobs/" + job + "/results", key: key}).error(t, http.StatusPaymentRequired, "overage_unpaid")
	if d["hold_id"] != h || d["overage_credits"] != 3.0 || d["amount_due_cents"] != 30.0 {
		t.Errorf("402 details %v", d)
	}
	if p := e.peoplePool(t, key); p["overage_outstanding"] != 3.0 {
		t.Fatalf("overage_outstanding before pay: %v", p["overage_outstanding"])
	}

	pay := req{method: "POST", path: "/v1/holds/" + h + "/pay", key: fin, body: map[string]any{"payment_ref": "inv_123"},
		header: map[string]string{"Idempotency-Key": "pay-" + h}}
	r := e.do(t, pay)
	if r.status != http.StatusOK {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	hold := r.json(t)
	if hold["id"] != h || hold["status"] != "paid" || hold["payment_ref"] != "inv_123" || hold["paid_at"] == nil || hold["job_id"] != job {
		t.Errorf("paid hold %v", hold)
	}
	// The same key and body: the first answer again.
	if again := e.do(t, pay); again.status != http.StatusOK || !bytes.Equal(again.body, r.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s %v", again.status, again.body, again.header)
	}
	other := pay
	other.body = map[string]any{"payment_ref": "inv_other"}
	e.do(t, other).error(t, http.StatusConflict, "idempotency_conflict")

	// Results at once.
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + job + "/results", key: key})
	if r.status != http.StatusOK {
		t.Fatalf("results after pay: %d %s", r.status, r.body)
	}
	var res struct {
		Results []struct{ URL string } `json:"results"`
	}
	if err := json.Unmarshal(r.body, &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("results %s: %v", r.body, err)
	}
	if body := fetchURL(t, res.Results[0].URL); body != "id\nper_00000001\n" {
		t.Errorf("the file: %q", body)
	}
	if got := e.holdTag(t, a, job); got != storage.HoldPaid {
		t.Errorf("the file's tag after pay: %q", got)
	}
	jb := e.do(t, req{method: "GET", path: "/v1/jobs/" + job, key: key}).json(t)
	if jh, _ := jb["hold"].(map[string]any); jh["status"] != "paid" || jb["results"] == nil {
		t.Errorf("job after pay: hold %v, results %v", jb["hold"], jb["results"])
	}
	if p := e.peoplePool(t, key); p["overage_outstanding"] != 0.0 {
		t.Errorf("overage_outstanding after pay: %v", p["overage_outstanding"])
	}
	var paidEntries []map[string]any
	for _, en := range e.journal(t, key) {
		if en["type"] == "hold_paid" {
			paidEntries = append(paidEntries, en)
		}
	}
	if len(paidEntries) != 1 || paidEntries[0]["job_id"] != job || paidEntries[0]["amount"] != 3.0 {
		t.Errorf("hold_paid entries %v", paidEntries)
	}

	// Paying again without a key: 200, the first reference stays.
	r = e.do(t, req{method: "POST", path: "/v1/holds/" + h + "/pay", key: e.admin, body: map[string]any{"payment_ref": "inv_999"}})
	if r.status != http.StatusOK || r.json(t)["payment_ref"] != "inv_123" {
		t.Errorf("paying again: %d %s", r.status, r.body)
	}
	e.do(t, req{method: "POST", path: "/v1/holds/" + h + "/waive", key: fin, body: map[string]any{"reason": "late"}}).
		error(t, http.StatusConflict, "conflict")

	// A second hold, waived; paying it is a conflict.
	job2, h2 := e.heldJob(t, a, key, 2)
	r = e.do(t, req{method: "POST", path: "/v1/holds/" + h2 + "/waive", key: fin, body: map[string]any{"reason": "goodwill"}})
	if r.status != http.StatusOK || r.json(t)["status"] != "waived" {
		t.Fatalf("waive: %d %s", r.status, r.body)
	}
	e.do(t, req{method: "POST", path: "/v1/holds/" + h2 + "/pay", key: fin, body: map[string]any{"payment_ref": "inv_2"}}).
		error(t, http.StatusConflict, "conflict")
	if r := e.do(t, req{method: "GET", path: "/v1/jobs/" + job2 + "/results", key: key}); r.status != http.StatusOK {
		t.Errorf("results after waive: %d %s", r.status, r.body)
	}
	if got := e.holdTag(t, a, job2); got != storage.HoldWaived {
		t.Errorf("the file's tag after waive: %q", got)
	}
	if p := e.peoplePool(t, key); p["overage_outstanding"] != 0.0 {
		t.Errorf("overage_outstanding after waive: %v", p["overage_outstanding"])
	}
	e.checkInvariants(t, a)
}

// TestHoldRequests: unknown and malformed ids are 404, bad bodies 400, and
// none of them changes the hold.
func TestHoldRequests(t *testing.T) {
	e := newFinanceEnv(t)
	fin := e.financeKey(t)
	a, key := e.account(t, "people-1k-99")
	_, h := e.heldJob(t, a, key, 1)
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		code       string
		field      string
	}{
		{"unknown hold", "/v1/holds/hold_job_nope/pay", `{"payment_ref":"inv_1"}`, 404, "not_found", ""},
		{"unknown hold waived", "/v1/holds/hold_job_nope/waive", `{"reason":"r"}`, 404, "not_found", ""},
		{"malformed id", "/v1/holds/a%3Ab/pay", `{"payment_ref":"inv_1"}`, 404, "not_found", ""},
		{"no body", "/v1/holds/" + h + "/pay", nil, 400, "invalid_request", "body"},
		{"empty ref", "/v1/holds/" + h + "/pay", `{"payment_ref":""}`, 400, "invalid_request", "payment_ref"},
		{"missing ref", "/v1/holds/" + h + "/pay", `{}`, 400, "invalid_request", "payment_ref"},
		{"ref not a string", "/v1/holds/" + h + "/pay", `{"payment_ref":7}`, 400, "invalid_request", "payment_ref"},
		{"unknown field", "/v1/holds/" + h + "/pay", `{"payment_ref":"x","amount":1}`, 400, "invalid_request", "amount"},
		{"reason on pay", "/v1/holds/" + h + "/pay", `{"reason":"x"}`, 400, "invalid_request", "reason"},
		{"long reason", "/v1/holds/" + h + "/waive", `{"reason":"` + strings.Repeat("x", 501) + `"}`, 400, "invalid_request", "reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := e.do(t, req{method: "POST", path: c.path, key: fin, body: c.body}).error(t, c.status, c.code)
			if c.field != "" && d["field"] != c.field {
				t.Errorf("details %v, want field %s", d, c.field)
			}
		})
	}
	if p := e.holds(t, fin, "?status=unpaid"); len(p.Holds) != 1 || *p.TotalDueCents != 10 {
		t.Errorf("the hold after bad requests: %+v", p)
	}
	e.checkInvariants(t, a)
}

// TestHoldsCSV exports the holds as CSV: a header row and the rows of the
// JSON listing, all pages of it, in the same order, with the same filters.
func TestHoldsCSV(t *testing.T) {
	e := newFinanceEnv(t)
	fin := e.financeKey(t)
	a, ka := e.account(t, "people-1k-99")
	b, kb := e.account(t, "people-1k-99")
	_, h1 := e.heldJob(t, a, ka, 1)
	e.heldJob(t, b, kb, 2)
	_, h3 := e.heldJob(t, a, ka, 3)
	e.heldJob(t, b, kb, 4)
	if r := e.do(t, req{method: "POST", path: "/v1/holds/" + h1 + "/pay", key: fin, body: map[string]any{"payment_ref": "=HYPERLINK(\"x\")"}}); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	if r := e.do(t, req{method: "POST", path: "/v1/holds/" + h3 + "/waive", key: fin, body: map[string]any{"reason": "goodwill, once"}}); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	for _, query := range []string{"", "?status=unpaid", "?status=paid", "?account=" + a, "?status=waived&account=" + b} {
		r := e.do(t, req{method: "GET", path: "/v1/holds.csv" + query, key: fin})
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%q: %d %s %s", query, r.status, r.header.Get("Content-Type"), r.body)
		}
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatalf("%q: %v\n%s", query, err, r.body)
		}
		header := []string{"id", "account_id", "job_id", "pool", "overage_credits", "amount_due_cents", "status", "created_at", "paid_at", "payment_ref", "waive_reason"}
		if len(recs) == 0 || !cmp.Equal(recs[0], header) {
			t.Fatalf("%q: header %v", query, recs)
		}
		rows, _ := e.allHolds(t, fin, query, 1)
		var want [][]string
		for _, row := range rows {
			var line []string
			for _, col := range header {
				switch v := row[col].(type) {
				case nil:
					line = append(line, "")
				case float64:
					line = append(line, strconv.FormatFloat(v, 'f', -1, 64))
				case string:
					if col == "payment_ref" && strings.HasPrefix(v, "=") {
						v = "'" + v // a formula is defused
					}
					line = append(line, v)
				}
			}
			want = append(want, line)
		}
		if diff := cmp.Diff(want, recs[1:], cmpEmpty); diff != "" {
			t.Errorf("%q: CSV rows differ from the JSON rows (-json +csv):\n%s", query, diff)
		}
	}
	e.do(t, req{method: "GET", path: "/v1/holds.csv?status=late", key: fin}).error(t, http.StatusBadRequest, "invalid_request")
	e.do(t, req{method: "GET", path: "/v1/holds.csv?cursor=x", key: fin}).error(t, http.StatusBadRequest, "invalid_request")
	r := e.do(t, req{method: "GET", path: "/v1/holds.csv", key: ka})
	if r.error(t, http.StatusForbidden, "forbidden"); !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("a 403 of the export is %s", r.header.Get("Content-Type"))
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("the export's answer has no X-Request-Id")
	}
}

// cmpEmpty makes a nil and an empty list of rows equal.
var cmpEmpty = cmp.Comparer(func(x, y [][]string) bool {
	if len(x) == 0 && len(y) == 0 {
		return true
	}
	return cmp.Equal(x, y)
})

// FuzzHoldBody sends any body to pay and waive: never a panic or a 5xx,
// every error of API.md's shape, and a 200 only with a hold. The seeds run
// with every go test.
func FuzzHoldBody(f *testing.F) {
	for _, b := range []string{`{"payment_ref":"inv_1"}`, `{"reason":"r"}`, `{"payment_ref":""}`, `{"payment_ref":null}`,
		`{"payment_ref":"a\u0000b"}`, `[`, ``, `null`, `{"payment_ref":"x"}{}`, `{"payment_ref":["x"]}`, `"inv"`} {
		f.Add(false, []byte(b))
		f.Add(true, []byte(b))
	}
	e := newFinanceEnv(f)
	a, key := e.account(f, "people-1k-99")
	_, h := e.heldJob(f, a, key, 1)
	f.Fuzz(func(t *testing.T, waive bool, body []byte) {
		path := "/v1/holds/" + h + "/pay"
		if waive {
			path = "/v1/holds/" + h + "/waive"
		}
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+e.admin)
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		}
		switch {
		case w.Code >= 500:
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		case w.Code == http.StatusOK:
			if out["id"] != h || (out["status"] != "paid" && out["status"] != "waived") {
				t.Fatalf("POST %s %q: 200 %s", path, body, w.Body)
			}
		case len(out) != 3 || out["error"] == nil || out["message"] == nil || out["details"] == nil:
			t.Fatalf("POST %s %q: error body %s", path, body, w.Body)
		}
	})
}

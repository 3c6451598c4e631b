package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
)

// items returns n enrichment items t1 … tn matching by id the records
// prefix_00000001 … in order, starting at the from-th.
func items(prefix string, from, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range n {
		out[i] = map[string]any{"tracking_id": fmt.Sprintf("t%d", from+i), "id": fmt.Sprintf("%s_%08d", prefix, from+i)}
	}
	return out
}

// jsonlRows decodes a JSONL results file.
func jsonlRows(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("results row %q: %v", sc.Text(), err)
		}
		rows = append(rows, m)
	}
	return rows
}

// TestE2EVendorBehaviours runs the billing behaviours of the vendors that
// creditrun learned from, through HTTP against `creditrun all`.
func TestE2EVendorBehaviours(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})

	t.Run("search matching 1 of 10 costs 1 and releases 9", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		j, m := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "id:per_00000042", "num_records": 10})
		if m.Requested != 10 || m.Processed != 10 || m.CreditsReserved != 10 || m.CreditsRemaining != 990 || m.Partial || m.PartialReason != nil {
			t.Fatalf("meta %+v", m)
		}
		j, _ = s.waitSucceeded(t, key, j.ID)
		if j.NumFound != 1 || j.TotalCost != 1 || j.CreditsReleased != 9 || j.Overage != 0 || j.Hold != nil {
			t.Errorf("job %+v", j)
		}
		var recs []map[string]any
		if err := json.Unmarshal(j.Records, &recs); err != nil || len(recs) != 1 || recs[0]["id"] != "per_00000042" {
			t.Errorf("records %s", j.Records)
		}
		if p := s.pool(t, key, "people"); p.Used != 1 || p.Reserved != 0 || p.Available != 999 {
			t.Errorf("pool after settlement %+v, want used 1, reserved 0, available 999", p)
		}
	})

	t.Run("search matching nothing costs 0", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "name:zzqqxx", "num_records": 10})
		j, r := s.waitSucceeded(t, key, j.ID)
		if j.NumFound != 0 || j.TotalCost != 0 || j.CreditsReleased != 10 {
			t.Errorf("job %+v", j)
		}
		if string(j.Records) != "[]" || !bytes.Contains(r.body, []byte(`"records":[]`)) {
			t.Errorf("records %q, want []: %s", j.Records, r)
		}
		var res struct {
			Results []resultJSON    `json:"results"`
			Records json.RawMessage `json:"records"`
		}
		s.must(t, http.StatusOK, "GET", "/v1/jobs/"+j.ID+"/results", key, nil).into(t, &res)
		if string(res.Records) != "[]" || res.Results == nil {
			t.Errorf("results of a search with no hits: %+v", res)
		}
		if p := s.pool(t, key, "people"); p.Used != 0 || p.Reserved != 0 || p.Available != 1000 {
			t.Errorf("pool %+v", p)
		}
	})

	t.Run("download to a CSV file over a signed link", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 25, "format": "csv"})
		j, _ = s.waitSucceeded(t, key, j.ID)
		if j.TotalCost != 25 || j.NumFound != int64(e2eDataset.People) || len(j.Results) != 1 || j.Results[0].Records != 25 {
			t.Fatalf("job %+v", j)
		}
		data := fetch(t, j.Results[0].URL)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 26 || !strings.HasPrefix(lines[0], "id,") || !strings.HasPrefix(lines[1], "per_00000001,") {
			t.Errorf("csv of %d lines, starting %q", len(lines), lines[:min(2, len(lines))])
		}
		if int64(len(data)) != j.Results[0].Bytes {
			t.Errorf("file of %d bytes, the job says %d", len(data), j.Results[0].Bytes)
		}
		// The link is signed: a changed one is refused.
		resp, err := http.Get(j.Results[0].URL + "x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("a tampered link answers %d", resp.StatusCode)
		}
	})

	t.Run("partial enrichment of 10 items with 3 credits", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99")
		s.setAvailable(t, acct, key, "people", 3)
		j, m := s.submit(t, key, "/v1/enrichments", map[string]any{
			"data_type": "people", "match_on": []string{"id"}, "items": items("per", 1, 10),
			"format": "jsonl", "on_insufficient": "partial",
		})
		if m.Requested != 10 || m.Processed != 3 || !m.Partial || m.PartialReason == nil ||
			*m.PartialReason != "Only 3 credits remaining, but 10 requested" || m.CreditsReserved != 3 || m.CreditsRemaining != 0 {
			t.Fatalf("meta %+v (reason %v)", m, m.PartialReason)
		}
		if len(m.TrackingIDToJobID) != 3 || m.TrackingIDToJobID["t1"] != j.ID || m.TrackingIDToJobID["t3"] != j.ID || m.TrackingIDToJobID["t4"] != "" {
			t.Errorf("tracking_id_to_job_id %v", m.TrackingIDToJobID)
		}
		j, _ = s.waitSucceeded(t, key, j.ID)
		if j.NumRecords != 3 || j.TotalCost != 3 || len(j.Results) != 1 || j.Results[0].Records != 3 {
			t.Fatalf("job %+v", j)
		}
		rows := jsonlRows(t, fetch(t, j.Results[0].URL))
		if len(rows) != 3 {
			t.Fatalf("%d result rows, want 3", len(rows))
		}
		for i, row := range rows {
			rec, _ := row["record"].(map[string]any)
			if row["tracking_id"] != fmt.Sprintf("t%d", i+1) || row["matched"] != true || rec["id"] != fmt.Sprintf("per_%08d", i+1) {
				t.Errorf("row %d: %v", i, row)
			}
		}
	})

	t.Run("zero credits is a 402", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99", "local-2k-49")
		s.setAvailable(t, acct, key, "people", 0)
		s.setAvailable(t, acct, key, "businesses", 0)
		for _, tt := range []struct {
			dataType, policy string
			pool             string
		}{
			{"people", "partial", "people"},
			{"people", "reject", "people"},
			{"businesses", "", "businesses"},
		} {
			body := map[string]any{"data_type": tt.dataType, "query": "*", "num_records": 10}
			if tt.policy != "" {
				body["on_insufficient"] = tt.policy
			}
			r := s.call(t, "POST", "/v1/searches", key, body)
			e := r.errorBody(t, http.StatusPaymentRequired)
			if e.Error != "insufficient_credits" || e.Message != "Not enough credits. Required: 10, Available: 0" ||
				e.Details["pool"] != tt.pool || e.Details["required"] != 10.0 || e.Details["available"] != 0.0 {
				t.Errorf("%s/%s: %s", tt.dataType, tt.policy, r)
			}
			if r.header.Get("X-Credits-Remaining") != "0" {
				t.Errorf("%s/%s: X-Credits-Remaining %q on a 402 for an empty pool", tt.dataType, tt.policy, r.header.Get("X-Credits-Remaining"))
			}
		}
		if n := len(s.jobsOf(t, key, "")); n != 0 {
			t.Errorf("%d jobs after three refusals", n)
		}
	})

	t.Run("reject-plan shortfall is a 402 and reserves nothing", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "local-2k-49")
		s.setAvailable(t, acct, key, "businesses", 25)
		before := len(s.ledgerEntries(t, key))
		r := s.call(t, "POST", "/v1/searches", key, map[string]any{"data_type": "businesses", "query": "*", "num_records": 50})
		e := r.errorBody(t, http.StatusPaymentRequired)
		if e.Error != "insufficient_credits" || e.Message != "Not enough credits. Required: 50, Available: 25" ||
			e.Details["pool"] != "businesses" || e.Details["required"] != 50.0 || e.Details["available"] != 25.0 {
			t.Errorf("%s", r)
		}
		if p := s.pool(t, key, "businesses"); p.Reserved != 0 || p.Available != 25 || p.Used != 0 {
			t.Errorf("pool after the 402: %+v", p)
		}
		if after := len(s.ledgerEntries(t, key)); after != before {
			t.Errorf("the 402 wrote %d journal entries", after-before)
		}
	})

	t.Run("dedup makes a second enrichment of the same records free", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "local-2k-49")
		body := func(from, n int) map[string]any {
			return map[string]any{"data_type": "businesses", "match_on": []string{"id"}, "items": items("biz", from, n), "format": "json"}
		}
		first, m := s.submit(t, key, "/v1/enrichments", body(1, 5))
		if m.SkippedDuplicates != 0 || m.CreditsReserved != 5 {
			t.Fatalf("first meta %+v", m)
		}
		if first, _ = s.waitSucceeded(t, key, first.ID); first.TotalCost != 5 {
			t.Fatalf("first enrichment %+v", first)
		}
		// The same five records and two new ones: five are free.
		second, m := s.submit(t, key, "/v1/enrichments", body(1, 7))
		if m.Requested != 7 || m.SkippedDuplicates != 5 || m.CreditsReserved != 2 || m.Processed != 7 || m.Partial {
			t.Fatalf("second meta %+v", m)
		}
		second, _ = s.waitSucceeded(t, key, second.ID)
		if second.TotalCost != 2 {
			t.Errorf("second enrichment cost %d, want 2 (5 of its 7 records were charged before)", second.TotalCost)
		}
		var rows []map[string]any
		if err := json.Unmarshal(fetch(t, second.Results[0].URL), &rows); err != nil || len(rows) != 7 {
			t.Fatalf("second results: %d rows, %v", len(rows), err)
		}
		// All the same again: nothing to charge.
		third, m := s.submit(t, key, "/v1/enrichments", body(1, 7))
		if m.SkippedDuplicates != 7 || m.CreditsReserved != 0 {
			t.Fatalf("third meta %+v", m)
		}
		if third, _ = s.waitSucceeded(t, key, third.ID); third.TotalCost != 0 {
			t.Errorf("third enrichment cost %d", third.TotalCost)
		}
		if p := s.pool(t, key, "businesses"); p.Used != 7 || p.Reserved != 0 {
			t.Errorf("pool %+v, want used 7", p)
		}
	})

	t.Run("a submitted-charge plan posts at acceptance", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "enhance-5k")
		its := append(items("prod", 1, 2), map[string]any{"tracking_id": "x1", "id": "prod_99999999"}, map[string]any{"tracking_id": "x2", "id": "nope"})
		j, m := s.submit(t, key, "/v1/enrichments", map[string]any{"data_type": "products", "match_on": []string{"id"}, "items": its})
		if m.CreditsReserved != 4 || m.CreditsRemaining != 4996 {
			t.Errorf("meta %+v", m)
		}
		// Posted already, before any worker ran it.
		if p := s.pool(t, key, "enhancement"); p.Used != 4 || p.Reserved != 0 || p.Available != 4996 {
			t.Errorf("right after the 202: %+v, want used 4", p)
		}
		j, _ = s.waitSucceeded(t, key, j.ID)
		if j.TotalCost != 4 {
			t.Errorf("job %+v, want total_cost 4: two of four items matched, all four are charged", j)
		}
		if p := s.pool(t, key, "enhancement"); p.Used != 4 || p.Reserved != 0 {
			t.Errorf("after the run: %+v", p)
		}
	})
}

// TestE2EOverage checks the overage gate: within the limit the job runs, its
// hold opens and its results stay back; beyond it, 402.
func TestE2EOverage(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	acct, key := s.newAccount(t, "people-1k-99") // overage: limit 100, 10 cents a credit
	s.setAvailable(t, acct, key, "people", 5)

	j, m := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 20, "format": "jsonl"})
	if m.CreditsReserved != 20 || m.OverageReserved != 15 || m.CreditsRemaining != 0 || m.Partial {
		t.Fatalf("meta %+v", m)
	}
	j, r := s.waitSucceeded(t, key, j.ID)
	if j.TotalCost != 20 || j.Overage != 15 || j.Hold == nil || j.Hold.Status != "unpaid" ||
		j.Hold.OverageCredits != 15 || j.Hold.AmountDueCents != 150 || j.Hold.ID == "" {
		t.Fatalf("job %s", r)
	}
	if bytes.Contains(r.body, []byte(`"results"`)) || bytes.Contains(r.body, []byte(`"records"`)) {
		t.Errorf("a held job shows its results: %s", r)
	}
	res := s.call(t, "GET", "/v1/jobs/"+j.ID+"/results", key, nil)
	e := res.errorBody(t, http.StatusPaymentRequired)
	if e.Error != "overage_unpaid" || e.Details["hold_id"] != j.Hold.ID || e.Details["overage_credits"] != 15.0 || e.Details["amount_due_cents"] != 150.0 {
		t.Errorf("results of a held job: %s", res)
	}
	for _, jj := range s.jobsOf(t, key, "") {
		if jj.Results != nil {
			t.Errorf("the job list shows results of %s", jj.ID)
		}
	}
	p := s.pool(t, key, "people")
	if p.OverageOutstanding != 15 || p.OverageReserved != 0 || p.Used != 5 || p.Available != 0 {
		t.Errorf("pool %+v", p)
	}

	// Headroom left: 100 - 15 = 85.
	r = s.call(t, "POST", "/v1/downloads", key, map[string]any{"data_type": "people", "query": "*", "num_records": 200})
	e = r.errorBody(t, http.StatusPaymentRequired)
	if e.Error != "insufficient_credits" || e.Message != "Not enough credits. Required: 200, Available: 85" {
		t.Errorf("beyond the overage limit: %s", r)
	}
	if q := s.pool(t, key, "people"); q != p {
		t.Errorf("the 402 changed the pool: %+v, was %+v", q, p)
	}
}

// TestE2EContract checks the API contract end to end: idempotent replays,
// tenant isolation, the 4xx of the error table and the rate limit's 429.
func TestE2EContract(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	_, key := s.newAccount(t, "people-1k-99")
	_, other := s.newAccount(t, "people-1k-99")

	t.Run("idempotency", func(t *testing.T) {
		body := `{"data_type": "people", "query": "province:TX", "num_records": 5}`
		first := s.must(t, http.StatusAccepted, "POST", "/v1/searches", key, body, "Idempotency-Key", "search-1")
		again := s.must(t, http.StatusAccepted, "POST", "/v1/searches", key, body, "Idempotency-Key", "search-1")
		if !bytes.Equal(first.body, again.body) {
			t.Errorf("replay differs:\n%s\n%s", first, again)
		}
		if first.header.Get("X-Credits-Remaining") != "995" || again.header.Get("X-Credits-Remaining") != "995" {
			t.Errorf("X-Credits-Remaining %q then %q, want 995 both times", first.header.Get("X-Credits-Remaining"), again.header.Get("X-Credits-Remaining"))
		}
		// Keys are per account: another account's same key is its own.
		s.must(t, http.StatusAccepted, "POST", "/v1/searches", other, body, "Idempotency-Key", "search-1")
		changed := s.call(t, "POST", "/v1/searches", key, strings.Replace(body, "5}", "6}", 1), "Idempotency-Key", "search-1")
		if e := changed.errorBody(t, http.StatusConflict); e.Error != "idempotency_conflict" {
			t.Errorf("changed body: %s", changed)
		}
		var j struct{ Job jobJSON }
		first.into(t, &j)
		s.waitSucceeded(t, key, j.Job.ID)
		jobs := s.jobsOf(t, key, "")
		if len(jobs) != 1 || jobs[0].ID != j.Job.ID {
			t.Errorf("%d jobs after a replay, want 1", len(jobs))
		}
		reserves := 0
		for _, e := range s.ledgerEntries(t, key) {
			if e.Type == "reserve" {
				reserves++
			}
		}
		if reserves != 1 {
			t.Errorf("%d reserve entries after a replay, want 1", reserves)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 1})
		s.waitSucceeded(t, key, j.ID)
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/jobs/" + j.ID},
			{"GET", "/v1/jobs/" + j.ID + "/results"},
			{"DELETE", "/v1/jobs/" + j.ID},
		} {
			r := s.call(t, c.method, c.path, other, nil)
			if e := r.errorBody(t, http.StatusNotFound); e.Error != "not_found" || strings.Contains(string(r.body), j.ID) {
				t.Errorf("%s %s with another account's key: %s", c.method, c.path, r)
			}
		}
		for _, oj := range s.jobsOf(t, other, "") {
			if oj.ID == j.ID {
				t.Errorf("another account lists job %s", j.ID)
			}
		}
	})

	t.Run("the 4xx of the error table", func(t *testing.T) {
		j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 1})
		s.waitSucceeded(t, key, j.ID)
		big := `{"data_type": "people", "query": "` + strings.Repeat("a", 11<<20) + `", "num_records": 1}`
		for _, tt := range []struct {
			name         string
			method, path string
			key          string
			body         any
			status       int
			code, field  string
		}{
			{"malformed JSON", "POST", "/v1/searches", key, `{"data_type": `, 400, "invalid_request", ""},
			{"unknown field", "POST", "/v1/searches", key, `{"data_type": "people", "query": "*", "num_records": 1, "color": "red"}`, 400, "invalid_request", "color"},
			{"num_records 0", "POST", "/v1/searches", key, `{"data_type": "people", "query": "*", "num_records": 0}`, 400, "invalid_request", "num_records"},
			{"bad query", "POST", "/v1/searches", key, `{"data_type": "people", "query": "name:(", "num_records": 1}`, 400, "invalid_request", "query"},
			{"bad item", "POST", "/v1/enrichments", key, `{"data_type": "people", "match_on": ["id"], "items": [{"id": "per_00000001"}, 7]}`, 400, "invalid_request", "items.1"},
			{"no key", "GET", "/v1/account", "", nil, 401, "unauthorized", ""},
			{"unknown key", "GET", "/v1/account", "cr_live_nope", nil, 401, "unauthorized", ""},
			{"user key on an admin route", "POST", "/v1/accounts", key, `{"plans": ["people-1k-99"]}`, 403, "forbidden", ""},
			{"admin key on a user route", "GET", "/v1/account", s.admin, nil, 403, "forbidden", ""},
			{"unknown job", "GET", "/v1/jobs/job_nope", key, nil, 404, "not_found", ""},
			{"unknown account", "POST", "/v1/accounts/nope/credits", s.admin, `{"pool": "people", "amount": 5}`, 404, "not_found", ""},
			{"cancel an ended job", "DELETE", "/v1/jobs/" + j.ID, key, nil, 409, "conflict", ""},
			{"body too large", "POST", "/v1/searches", key, big, 413, "payload_too_large", ""},
		} {
			r := s.call(t, tt.method, tt.path, tt.key, tt.body)
			e := r.errorBody(t, tt.status)
			if e.Error != tt.code || (tt.field != "" && e.Details["field"] != tt.field) {
				t.Errorf("%s: %s, want %d %s field %q", tt.name, r, tt.status, tt.code, tt.field)
			}
		}
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		slow := startStack(t, stackOptions{roles: roles{api: true}, rateLimit: 1})
		// No journal check: it would read over the rate. Nothing here
		// touches credits.
		_, k := slow.createAccount(t, "people-1k-99")
		// One request a second with a burst of one: of five in a row, at
		// least one is over the rate however slowly they go out, unless
		// they take more than four seconds.
		var limited *reply
		for range 5 {
			r, err := slow.do("GET", "/v1/account", k, nil)
			if err != nil {
				t.Fatal(err)
			}
			slow.checkHeaders(t, "GET", "/v1/account", k, r)
			if r.status == http.StatusTooManyRequests {
				limited = &r
				break
			}
		}
		if limited == nil {
			t.Fatal("five requests at a rate of one a second: none limited")
		}
		if e := limited.errorBody(t, http.StatusTooManyRequests); e.Error != "rate_limited" || limited.header.Get("Retry-After") == "" ||
			limited.header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("429: %s %v", limited, limited.header)
		}
	})
}

// gate is a source that holds a search's stream after a number of records
// until the run's ctx ends, so that a test can act on a job that is surely
// running.
type gate struct {
	*dataset.Dataset
	after   int
	reached chan struct{} // closed when a stream holds
	left    chan struct{} // closed when a held stream has returned
	once    sync.Once
}

func newGate(after int) *gate {
	return &gate{after: after, reached: make(chan struct{}), left: make(chan struct{})}
}

func (g *gate) wrap(ds *dataset.Dataset) source.Source {
	g.Dataset = ds
	return g
}

func (g *gate) Search(ctx context.Context, dataType, q string, limit int) (source.Results, error) {
	res, err := g.Dataset.Search(ctx, dataType, q, limit)
	if err != nil {
		return res, err
	}
	inner := res.Records
	res.Records = func(yield func(source.Record, error) bool) {
		n := 0
		for rec, err := range inner {
			if n == g.after {
				held := false
				g.once.Do(func() { held = true; close(g.reached) })
				if held {
					defer close(g.left)
					<-ctx.Done()
					yield(source.Record{}, ctx.Err())
					return
				}
			}
			if !yield(rec, err) {
				return
			}
			n++
		}
	}
	return res, nil
}

// TestE2ECancel cancels a queued job (on an API with no worker) and a
// running one, and checks that their reservations are voided.
func TestE2ECancel(t *testing.T) {
	t.Parallel()

	t.Run("queued", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{roles: roles{api: true}})
		_, key := s.newAccount(t, "people-1k-99")
		j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 40})
		if p := s.pool(t, key, "people"); p.Reserved != 40 {
			t.Fatalf("pool %+v, want reserved 40", p)
		}
		var c jobJSON
		s.must(t, http.StatusOK, "DELETE", "/v1/jobs/"+j.ID, key, nil).into(t, &c)
		if c.Status != "canceled" || c.TotalCost != 0 {
			t.Errorf("canceled job %+v", c)
		}
		if p := s.pool(t, key, "people"); p.Reserved != 0 || p.Available != 1000 || p.Used != 0 {
			t.Errorf("pool after the cancel %+v", p)
		}
		if e := s.call(t, "DELETE", "/v1/jobs/"+j.ID, key, nil).errorBody(t, http.StatusConflict); e.Error != "conflict" {
			t.Errorf("second cancel: %+v", e)
		}
		// A worker that starts now runs the next job, and not the
		// canceled one.
		next, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 2})
		startStack(t, stackOptions{roles: roles{worker: true}, on: s})
		s.waitSucceeded(t, key, next.ID)
		if c, _ = s.job(t, key, j.ID); c.Status != "canceled" || c.TotalCost != 0 || c.Progress == nil {
			t.Errorf("canceled job after a worker ran: %+v", c)
		}
	})

	t.Run("running", func(t *testing.T) {
		t.Parallel()
		g := newGate(100)
		s := startStack(t, stackOptions{roles: roles{api: true, worker: true}, sourceFunc: g.wrap})
		_, key := s.newAccount(t, "people-1k-99")
		j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 500})
		select {
		case <-g.reached:
		case <-time.After(30 * time.Second):
			t.Fatal("the download did not start within 30s")
		}
		s.waitJob(t, key, j.ID, 30*time.Second, "running", func(j jobJSON) bool { return j.Status == "running" })
		var c jobJSON
		s.must(t, http.StatusOK, "DELETE", "/v1/jobs/"+j.ID, key, nil).into(t, &c)
		if c.Status != "canceled" {
			t.Errorf("canceled job %+v", c)
		}
		if p := s.pool(t, key, "people"); p.Reserved != 0 || p.Available != 1000 {
			t.Errorf("pool after the cancel %+v", p)
		}
		// The worker's run stops on its ctx (CancelProcessing).
		select {
		case <-g.left:
		case <-time.After(30 * time.Second):
			t.Fatal("the canceled run did not stop within 30s")
		}
		// Whatever the worker does after, the job stays canceled with
		// nothing charged. Wait for asynq to be done with the task: its
		// retry finds the job ended and acks it.
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, err := s.rdb.Exists(context.Background(), "asynq:{default}:t:"+j.ID).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(pollEvery)
		}
		if c, _ = s.job(t, key, j.ID); c.Status != "canceled" || c.TotalCost != 0 || c.Results != nil {
			t.Errorf("job after its run stopped: %+v", c)
		}
	})
}

// TestE2EConcurrentSubmits sends 200 searches of 1 credit at once against a
// balance of 100 under the reject policy: exactly 100 are accepted.
func TestE2EConcurrentSubmits(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	acct, key := s.newAccount(t, "local-2k-49")
	s.setAvailable(t, acct, key, "businesses", 100)

	const n = 200
	replies := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = s.do("POST", "/v1/searches", key, map[string]any{"data_type": "businesses", "query": "*", "num_records": 1})
		})
	}
	close(start)
	wg.Wait()
	accepted := map[string]bool{}
	refused := 0
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s.checkHeaders(t, "POST", "/v1/searches", key, r)
		switch r.status {
		case http.StatusAccepted:
			var out struct{ Job jobJSON }
			r.into(t, &out)
			accepted[out.Job.ID] = true
		case http.StatusPaymentRequired:
			if e := r.errorBody(t, http.StatusPaymentRequired); e.Message != "Not enough credits. Required: 1, Available: 0" {
				t.Errorf("refusal: %s", r)
			}
			refused++
		default:
			t.Errorf("submit: %s", r)
		}
	}
	if len(accepted) != 100 || refused != 100 {
		t.Fatalf("%d accepted (distinct jobs), %d refused; want 100 and 100", len(accepted), refused)
	}
	p := s.pool(t, key, "businesses")
	if p.Available != 0 || p.Reserved+p.Used != 100 {
		t.Errorf("pool %+v: over- or under-reserved", p)
	}
	var cost int64
	for id := range accepted {
		j, _ := s.waitSucceeded(t, key, id)
		cost += j.TotalCost
	}
	if p := s.pool(t, key, "businesses"); cost != 100 || p.Used != 100 || p.Reserved != 0 {
		t.Errorf("after the runs: cost %d, pool %+v", cost, p)
	}
}

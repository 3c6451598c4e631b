package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
)

// The dataset of the quote tests: generated once per test binary.
var (
	quoteDataOnce sync.Once
	quoteData     *dataset.Dataset
	errQuoteData  error
)

func testDataset(t testing.TB) *dataset.Dataset {
	t.Helper()
	quoteDataOnce.Do(func() {
		dir, err := os.MkdirTemp("", "creditrun-api-dataset")
		if err != nil {
			errQuoteData = err
			return
		}
		cfg := dataset.GenerateConfig{Dir: filepath.Join(dir, "data"), People: 2000, Properties: 20, Businesses: 50, Products: 20, Seed: 1}
		if _, errQuoteData = dataset.Generate(ctx, cfg); errQuoteData != nil {
			return
		}
		quoteData, errQuoteData = dataset.Open(ctx, cfg.Dir)
	})
	if errQuoteData != nil {
		t.Fatal(errQuoteData)
	}
	return quoteData
}

// newSourceEnv is newEnv with a jobs service that has the dataset, as the
// API role has it when CREDITRUN_DATASET is set.
func newSourceEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	ds := testDataset(t)
	var svc *jobs.Service
	e := newEnv(t, append(opts, func(cfg *api.Config) {
		l := ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		svc = jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: &jobstest.Queue{}, Accounts: js,
			Catalog: plan.Builtin(), Source: ds})
		cfg.Jobs = svc
	})...)
	e.svc = svc
	return e
}

// businesses returns the first n businesses of the dataset as enrichment
// items named by name and postal code, with the ids of the records they
// match (by the dataset's own matching).
func businesses(t testing.TB, n int) ([]map[string]any, []string) {
	t.Helper()
	ds := testDataset(t)
	res, err := ds.Search(ctx, source.Businesses, "", n)
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	var srcItems []source.Item
	for r, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Name       string `json:"name"`
			PostalCode string `json:"postalCode"`
		}
		if err := r.Decode(&b); err != nil {
			t.Fatal(err)
		}
		it := map[string]any{"tracking_id": fmt.Sprintf("t%d", len(items)), "name": b.Name, "postalCode": b.PostalCode}
		items = append(items, it)
		srcItems = append(srcItems, it)
	}
	stream, err := ds.Match(ctx, source.Businesses, []string{"name", "postalCode"}, srcItems)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(items))
	for m, err := range stream {
		if err != nil || !m.Matched {
			t.Fatalf("item %d does not match: %v", m.Index, err)
		}
		ids[m.Index] = m.Record.ID
	}
	return items, ids
}

// chargeRecords runs an enrichment by record id of ids to its end, so that
// the pool has charged them.
func (e *env) chargeRecords(t testing.TB, acct, key string, ids []string) {
	t.Helper()
	items := make([]map[string]any, len(ids))
	for i, id := range ids {
		items[i] = map[string]any{"id": id}
	}
	s := e.submit(t, key, "/v1/enrichments", map[string]any{"data_type": "businesses", "match_on": []string{"id"}, "items": items})
	id := s.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: int64(len(ids)), Delivered: int64(len(ids)), RecordIDs: ids}); err != nil {
		t.Fatal(err)
	}
}

// ledgerState is an account's pools and journal, to see that a request
// changed neither.
func (e *env) ledgerState(t testing.TB, acct string) string {
	t.Helper()
	pools, err := e.ledger.Pools(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.ledger.JournalAll(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"pools": pools, "journal": len(entries)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// quote posts a quote and decodes its 200, checking that it changed no
// credit and wrote no job.
func (e *env) quote(t testing.TB, acct, key string, body map[string]any) map[string]any {
	t.Helper()
	before := e.ledgerState(t, acct)
	jobsBefore, _, err := e.svc.List(ctx, acct, jobs.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, req{method: "POST", path: "/v1/quotes", key: key, body: body})
	if r.status != http.StatusOK {
		t.Fatalf("quote %v: %d %s", body, r.status, r.body)
	}
	if after := e.ledgerState(t, acct); after != before {
		t.Fatalf("the quote changed the ledger:\n%s\n%s", before, after)
	}
	jobsAfter, _, err := e.svc.List(ctx, acct, jobs.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobsAfter) != len(jobsBefore) {
		t.Fatalf("the quote wrote a job: %d jobs, then %d", len(jobsBefore), len(jobsAfter))
	}
	e.checkInvariants(t, acct)
	return r.json(t)
}

func num(t testing.TB, m map[string]any, k string) int64 {
	t.Helper()
	v, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s is %v (%T), not a number, in %v", k, m[k], m[k], m)
	}
	return int64(v)
}

// TestEnrichmentByFieldsSkipsChargedAtSubmit: on a pool that charges a
// record once (local-2k-49), an enrichment of three businesses named by
// name and postal code, two of which the pool charged before, needs one
// credit at submit: it reserves 1 and says skipped_duplicates 2, and on a
// balance of 1 it is accepted where it needed 3 before. The quote said so
// first.
func TestEnrichmentByFieldsSkipsChargedAtSubmit(t *testing.T) {
	e := newSourceEnv(t)
	acct, key := e.account(t, "local-2k-49")
	items, ids := businesses(t, 3)
	e.chargeRecords(t, acct, key, ids[:2])
	e.setAvailable(t, acct, "businesses", 1)
	body := map[string]any{"data_type": "businesses", "match_on": []string{"name", "postalCode"}, "items": items}

	q := e.quote(t, acct, key, map[string]any{"kind": "enrichment", "data_type": "businesses",
		"match_on": []string{"name", "postalCode"}, "items": items})
	want := map[string]int64{"requested": 3, "matched": 3, "skipped_duplicates": 2, "credits_required": 1,
		"credits_available": 1, "overage_credits": 0, "amount_due_cents": 0, "expected_cost": 1}
	for k, v := range want {
		if got := num(t, q, k); got != v {
			t.Errorf("quote %s = %d, want %d", k, got, v)
		}
	}
	if q["outcome"] != "accept" || q["num_found"] != nil || q["kind"] != "enrichment" || q["data_type"] != "businesses" {
		t.Errorf("quote %v", q)
	}
	if _, ok := q["partial_reason"]; ok {
		t.Errorf("partial_reason in an accepted quote: %v", q)
	}

	s := e.submit(t, key, "/v1/enrichments", body)
	for k, v := range map[string]int64{"requested": 3, "processed": 3, "credits_reserved": 1, "skipped_duplicates": 2, "credits_remaining": 0} {
		if got := num(t, s.Meta, k); got != v {
			t.Errorf("meta %s = %d, want %d: %v", k, got, v, s.Meta)
		}
	}
	if s.Meta["partial"] != false {
		t.Errorf("meta %v", s.Meta)
	}
	// The settle still decides: the job matched three records, of which
	// two were charged before.
	id := s.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: 3, Delivered: 3, RecordIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if j.TotalCost != 1 {
		t.Errorf("total cost %d, want 1", j.TotalCost)
	}
	e.checkInvariants(t, acct)
}

// TestWithoutDatasetItemsByFieldsChargeUntilSettle: an API without the
// dataset works as before: items named by fields are made free only at the
// settle, so on a balance of 1 the enrichment needs all three credits, and
// a quote answers 503 saying it needs the dataset.
func TestWithoutDatasetItemsByFieldsChargeUntilSettle(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "local-2k-49")
	items, ids := businesses(t, 3)
	e.chargeRecords(t, acct, key, ids[:2])
	e.setAvailable(t, acct, "businesses", 1)
	body := map[string]any{"data_type": "businesses", "match_on": []string{"name", "postalCode"}, "items": items}
	r := e.do(t, req{method: "POST", path: "/v1/enrichments", key: key, body: body})
	if d := r.error(t, http.StatusPaymentRequired, "insufficient_credits"); d["required"] != 3.0 {
		t.Errorf("402 %s", r.body)
	}
	body["kind"] = "enrichment"
	before := e.ledgerState(t, acct)
	r = e.do(t, req{method: "POST", path: "/v1/quotes", key: key, body: body})
	r.error(t, http.StatusServiceUnavailable, "unavailable")
	if after := e.ledgerState(t, acct); after != before {
		t.Errorf("the refused quote changed the ledger")
	}
	e.checkInvariants(t, acct)
}

// TestQuoteMatchesSubmit quotes searches, downloads and enrichments under
// every outcome, then submits the same body: the submit does what the
// quote said (its outcome, what it reserved, the overage, the duplicates
// skipped), and the quote changed nothing.
func TestQuoteMatchesSubmit(t *testing.T) {
	e := newSourceEnv(t)
	ds := testDataset(t)
	items, _ := businesses(t, 3)
	people := []map[string]any{{"name": "nobody at all", "postalCode": "00000"}}
	res, err := ds.Search(ctx, source.People, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	for r, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, map[string]any{"name": r.Values("name")[0], "postalCode": r.Values("postalCode")[0]})
	}
	const selective = `city:cedardale`
	found, err := ds.Search(ctx, source.People, selective, 0)
	if err != nil || found.Found == 0 || found.Found >= 2000 {
		t.Fatalf("query %s finds %d: %v", selective, found.Found, err)
	}
	cases := []struct {
		name      string
		plan      string
		pool      string
		available int64
		kind      string
		body      map[string]any
		// what the quote says
		outcome                     string
		numFound, matched           int64 // -1: null
		required, overage, expected int64
		reserved, skipped           int64 // what the submit reserves and skips
	}{
		{name: "search accepted", plan: "people-1k-99", pool: "people", available: 1000, kind: "search",
			body:    map[string]any{"data_type": "people", "query": selective, "num_records": 1000},
			outcome: "accept", numFound: int64(found.Found), matched: -1, required: 1000, expected: int64(found.Found), reserved: 1000},
		{name: "download partial", plan: "people-1k-99", pool: "people", available: 3, kind: "download",
			body:    map[string]any{"data_type": "people", "num_records": 10, "on_insufficient": "partial"},
			outcome: "partial", numFound: 2000, matched: -1, required: 10, expected: 3, reserved: 3},
		{name: "download overage", plan: "people-1k-99", pool: "people", available: 3, kind: "download",
			body:    map[string]any{"data_type": "people", "num_records": 50, "format": "jsonl"},
			outcome: "accept", numFound: 2000, matched: -1, required: 50, overage: 47, expected: 50, reserved: 50},
		{name: "search rejected", plan: "people-1k-99", pool: "people", available: 3, kind: "search",
			body:    map[string]any{"data_type": "people", "query": selective, "num_records": 10, "on_insufficient": "reject"},
			outcome: "reject", numFound: int64(found.Found), matched: -1, required: 10, expected: min(10, int64(found.Found))},
		{name: "enrichment by fields, one unmatched", plan: "people-1k-99", pool: "people", available: 1000, kind: "enrichment",
			body:    map[string]any{"data_type": "people", "match_on": []string{"name", "postalCode"}, "items": people},
			outcome: "accept", numFound: -1, matched: 2, required: 3, expected: 2, reserved: 3},
		{name: "enrichment charged per item, partial", plan: "enhance-5k", pool: "enhancement", available: 2, kind: "enrichment",
			body:    map[string]any{"data_type": "businesses", "match_on": []string{"name", "postalCode"}, "items": items},
			outcome: "partial", numFound: -1, matched: 3, required: 3, expected: 2, reserved: 2},
		{name: "enrichment dedup, repeated item", plan: "local-2k-49", pool: "businesses", available: 1, kind: "enrichment",
			body:    map[string]any{"data_type": "businesses", "match_on": []string{"name", "postalCode"}, "items": append(items[:1:1], retracked(items[0], "t0-again"))},
			outcome: "accept", numFound: -1, matched: 2, required: 1, expected: 1, reserved: 1, skipped: 1},
		{name: "enrichment dedup rejected", plan: "local-2k-49", pool: "businesses", available: 1, kind: "enrichment",
			body:    map[string]any{"data_type": "businesses", "match_on": []string{"name", "postalCode"}, "items": items},
			outcome: "reject", numFound: -1, matched: 3, required: 3, expected: 3},
	}
	paths := map[string]string{"search": "/v1/searches", "download": "/v1/downloads", "enrichment": "/v1/enrichments"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acct, key := e.account(t, c.plan)
			e.setAvailable(t, acct, c.pool, c.available)
			qb := map[string]any{"kind": c.kind}
			for k, v := range c.body {
				qb[k] = v
			}
			q := e.quote(t, acct, key, qb)
			if q["outcome"] != c.outcome {
				t.Fatalf("outcome %v, want %s: %v", q["outcome"], c.outcome, q)
			}
			for k, v := range map[string]int64{"num_found": c.numFound, "matched": c.matched} {
				if v < 0 {
					if q[k] != nil {
						t.Errorf("%s = %v, want null", k, q[k])
					}
				} else if got := num(t, q, k); got != v {
					t.Errorf("%s = %d, want %d", k, got, v)
				}
			}
			for k, v := range map[string]int64{"credits_required": c.required, "overage_credits": c.overage,
				"amount_due_cents": c.overage * 10, "expected_cost": c.expected, "skipped_duplicates": c.skipped} {
				if got := num(t, q, k); got != v {
					t.Errorf("%s = %d, want %d", k, got, v)
				}
			}
			r := e.do(t, req{method: "POST", path: paths[c.kind], key: key, body: c.body})
			if c.outcome == "reject" {
				d := r.error(t, http.StatusPaymentRequired, "insufficient_credits")
				if d["required"] != q["credits_required"] || d["available"] != q["credits_available"] {
					t.Errorf("402 details %v, quote %v", d, q)
				}
				e.checkInvariants(t, acct)
				return
			}
			if r.status != http.StatusAccepted {
				t.Fatalf("submit: %d %s", r.status, r.body)
			}
			meta := r.json(t)["meta"].(map[string]any)
			if got := num(t, meta, "credits_reserved"); got != c.reserved {
				t.Errorf("credits_reserved %d, want %d", got, c.reserved)
			}
			for k, qk := range map[string]string{"skipped_duplicates": "skipped_duplicates", "overage_reserved": "overage_credits"} {
				if num(t, meta, k) != num(t, q, qk) {
					t.Errorf("meta %s %v, quote %s %v", k, meta[k], qk, q[qk])
				}
			}
			if (meta["partial"] == true) != (c.outcome == "partial") || meta["partial_reason"] != q["partial_reason"] {
				t.Errorf("meta %v, quote %v", meta, q)
			}
			e.checkInvariants(t, acct)
		})
	}
}

// TestQuoteBadBody: a quote of a bad body gets the 400 its submit gets,
// word for word, and a kind that is missing or wrong is a 400 on kind.
func TestQuoteBadBody(t *testing.T) {
	e := newSourceEnv(t, func(c *apiConfig) { c.DataTypes = []string{"people", "properties", "businesses", "products"} })
	acct, key := e.account(t, "people-1k-99")
	before := e.ledgerState(t, acct)
	bodies := []struct {
		path string
		body map[string]any
	}{
		{"/v1/searches", map[string]any{"data_type": "people", "num_records": 0}},
		{"/v1/searches", map[string]any{"data_type": "people"}},
		{"/v1/searches", map[string]any{"data_type": "people", "num_records": 5, "format": "csv"}},
		{"/v1/downloads", map[string]any{"data_type": "people", "num_records": 5, "query": "name:("}},
		{"/v1/downloads", map[string]any{"data_type": "people", "num_records": 5, "colour": "red"}},
		{"/v1/downloads", map[string]any{"data_type": "cars", "num_records": 5}},
		{"/v1/enrichments", map[string]any{"data_type": "cars", "match_on": []string{"id"}, "items": []any{map[string]any{"id": "c1"}}}},
		{"/v1/enrichments", map[string]any{"data_type": "people", "match_on": []string{"name"}, "items": []any{}}},
		{"/v1/enrichments", map[string]any{"data_type": "people", "match_on": []string{"name", "name"}, "items": []any{map[string]any{}}}},
		{"/v1/enrichments", map[string]any{"data_type": "people", "match_on": []string{"name"}, "items": []any{map[string]any{"tracking_id": 5}}}},
	}
	kinds := map[string]string{"/v1/searches": "search", "/v1/downloads": "download", "/v1/enrichments": "enrichment"}
	for _, b := range bodies {
		sub := e.do(t, req{method: "POST", path: b.path, key: key, body: b.body})
		sd := sub.error(t, http.StatusBadRequest, "invalid_request")
		qb := map[string]any{"kind": kinds[b.path]}
		for k, v := range b.body {
			qb[k] = v
		}
		q := e.do(t, req{method: "POST", path: "/v1/quotes", key: key, body: qb})
		qd := q.error(t, http.StatusBadRequest, "invalid_request")
		if qd["field"] != sd["field"] || q.json(t)["message"] != sub.json(t)["message"] {
			t.Errorf("%s %v: quote says %s, submit %s", b.path, b.body, q.body, sub.body)
		}
	}
	for body, field := range map[string]string{
		`{"data_type": "people", "num_records": 5}`:                   "kind",
		`{"kind": "export", "data_type": "people", "num_records": 5}`: "kind",
		`{"kind": 3, "data_type": "people", "num_records": 5}`:        "kind",
		`{"kind": "search", "data_type": "people", "num_records": 5`:  "body",
		`[]`: "body",
	} {
		r := e.do(t, req{method: "POST", path: "/v1/quotes", key: key, body: body})
		if d := r.error(t, http.StatusBadRequest, "invalid_request"); d["field"] != field {
			t.Errorf("%s: field %v, want %s: %s", body, d["field"], field, r.body)
		}
	}
	// Fields that cannot be matched: a pool that dedups matches at submit
	// and refuses them there; another takes the job (which will match
	// nothing), and so does its quote.
	blank := map[string]any{"data_type": "businesses", "match_on": []string{" "}, "items": []any{map[string]any{" ": "x"}}}
	_, localKey := e.account(t, "local-2k-49")
	sub := e.do(t, req{method: "POST", path: "/v1/enrichments", key: localKey, body: blank})
	if d := sub.error(t, http.StatusBadRequest, "invalid_request"); d["field"] != "match_on" {
		t.Errorf("submit of blank match_on on a dedup pool: %s", sub.body)
	}
	qb := map[string]any{"kind": "enrichment"}
	for k, v := range blank {
		qb[k] = v
	}
	q := e.do(t, req{method: "POST", path: "/v1/quotes", key: localKey, body: qb})
	if q.error(t, http.StatusBadRequest, "invalid_request"); string(q.body) != string(sub.body) {
		t.Errorf("quote %s, submit %s", q.body, sub.body)
	}
	bizAcct, bizKey := e.account(t, "businesses-5k-199")
	if got := e.quote(t, bizAcct, bizKey, qb); got["outcome"] != "accept" || num(t, got, "matched") != 0 || num(t, got, "expected_cost") != 0 {
		t.Errorf("quote of blank match_on on a pool without dedup: %v", got)
	}
	e.submit(t, bizKey, "/v1/enrichments", blank)

	// Only a user key quotes.
	r := e.do(t, req{method: "POST", path: "/v1/quotes", key: e.admin, body: map[string]any{"kind": "search", "data_type": "people", "num_records": 5}})
	r.error(t, http.StatusForbidden, "forbidden")
	if after := e.ledgerState(t, acct); after != before {
		t.Fatalf("bad quotes changed the ledger:\n%s\n%s", before, after)
	}
}

// BenchmarkQuote quotes a selective download through the API: the count of
// its query in the dataset, the plan and the pool.
func BenchmarkQuote(b *testing.B) {
	e := newSourceEnv(b)
	_, key := e.account(b, "people-1k-99")
	body := map[string]any{"kind": "download", "data_type": "people", "query": "city:cedardale", "num_records": 100}
	for b.Loop() {
		if r := e.do(b, req{method: "POST", path: "/v1/quotes", key: key, body: body}); r.status != http.StatusOK {
			b.Fatalf("quote: %d %s", r.status, r.body)
		}
	}
}

// retracked returns a copy of item with another tracking_id: the same item
// sent twice, as the request's tracking_ids must differ.
func retracked(item map[string]any, trackingID string) map[string]any {
	c := maps.Clone(item)
	c["tracking_id"] = trackingID
	return c
}

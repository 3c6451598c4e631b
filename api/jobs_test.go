package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/storage"
)

// TestSubmitAndRead submits each kind, checks the 202, X-Credits-Remaining
// after the reservation, the job as GET shows it, the list and a cancel.
func TestSubmitAndRead(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99", "local-2k-49")
	e.setAvailable(t, acct, "businesses", 3)

	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "city:Austin", "num_records": 10})
	if s.Job["kind"] != "search" || s.Job["status"] != "queued" || s.Job["query"] != "city:Austin" || s.Job["num_records"] != 10.0 {
		t.Errorf("job %v", s.Job)
	}
	if s.Meta["requested"] != 10.0 || s.Meta["credits_reserved"] != 10.0 || s.Meta["credits_remaining"] != 990.0 || s.Meta["partial"] != false {
		t.Errorf("meta %v", s.Meta)
	}
	if _, ok := s.Meta["partial_reason"]; ok {
		t.Errorf("partial_reason with partial false: %v", s.Meta)
	}
	if s.Job["hold"] != nil || s.Job["progress"] == nil {
		t.Errorf("hold %v progress %v", s.Job["hold"], s.Job["progress"])
	}

	// A partial enrichment: 10 items, 3 credits.
	items := make([]map[string]any, 10)
	for i := range items {
		items[i] = map[string]any{"tracking_id": "t" + string(rune('0'+i)), "name": "Shop"}
	}
	r := e.do(t, req{method: "POST", path: "/v1/enrichments", key: key,
		body: map[string]any{"data_type": "businesses", "match_on": []string{"name"}, "items": items, "on_insufficient": "partial"}})
	if r.status != http.StatusAccepted {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var en submitted
	if err := json.Unmarshal(r.body, &en); err != nil {
		t.Fatal(err)
	}
	if en.Meta["processed"] != 3.0 || en.Meta["partial"] != true || en.Meta["partial_reason"] != "Only 3 credits remaining, but 10 requested" {
		t.Errorf("meta %v", en.Meta)
	}
	if m := en.Meta["tracking_id_to_job_id"].(map[string]any); len(m) != 3 || m["t0"] != en.Job["id"] || m["t3"] != nil {
		t.Errorf("tracking_id_to_job_id %v", m)
	}
	if got := r.header.Get("X-Credits-Remaining"); got != "0" {
		t.Errorf("X-Credits-Remaining after the 202: %q, want 0 (the businesses pool)", got)
	}
	if en.Job["match_on"] == nil || en.Job["query"] != nil {
		t.Errorf("enrichment job %v", en.Job)
	}

	d := e.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "num_records": 5})
	if d.Job["format"] != "csv" {
		t.Errorf("download format %v, want the default csv", d.Job["format"])
	}

	// GET shows the job, with the job's pool in X-Credits-Remaining.
	id := s.Job["id"].(string)
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + id, key: key})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	j := r.json(t)
	for _, f := range []string{"id", "kind", "data_type", "query", "status", "num_records", "credits_reserved", "num_found",
		"total_cost", "credits_released", "overage", "hold", "progress", "created_at", "started_at", "finished_at"} {
		if _, ok := j[f]; !ok {
			t.Errorf("job without %s: %s", f, r.body)
		}
	}
	for _, f := range []string{"results", "records", "error", "account_id", "meta"} {
		if _, ok := j[f]; ok {
			t.Errorf("queued job with %s: %s", f, r.body)
		}
	}
	if got := r.header.Get("X-Credits-Remaining"); got != "985" {
		t.Errorf("X-Credits-Remaining on GET %q, want 985", got)
	}
	if r := e.do(t, req{method: "GET", path: "/v1/jobs/" + id + "/results", key: key}); r.status != http.StatusConflict {
		t.Errorf("results of a queued job: %d %s", r.status, r.body)
	}

	// The list: newest first, filters, paging.
	r = e.do(t, req{method: "GET", path: "/v1/jobs?limit=2", key: key})
	list := r.json(t)
	page := list["jobs"].([]any)
	if len(page) != 2 || page[0].(map[string]any)["id"] != d.Job["id"] || list["next_cursor"] == nil {
		t.Fatalf("first page %s", r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs?limit=2&cursor=" + list["next_cursor"].(string), key: key})
	if page := r.json(t)["jobs"].([]any); len(page) != 1 || page[0].(map[string]any)["id"] != id || r.json(t)["next_cursor"] != nil {
		t.Fatalf("second page %s", r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs?kind=enrichment&status=canceled", key: key})
	if got := r.json(t)["jobs"]; got == nil || len(got.([]any)) != 0 {
		t.Fatalf("empty filter: %s", r.body)
	}

	// Cancel: 200 with the job canceled and its credits back; again, 409.
	r = e.do(t, req{method: "DELETE", path: "/v1/jobs/" + id, key: key})
	if r.status != http.StatusOK || r.json(t)["status"] != "canceled" || r.json(t)["credits_released"] != 10.0 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	r = e.do(t, req{method: "DELETE", path: "/v1/jobs/" + id, key: key})
	r.error(t, http.StatusConflict, "conflict")
	if got := e.available(t, acct, "people"); got != 995 {
		t.Errorf("people available %d after the cancel, want 995", got)
	}

	r = e.do(t, req{method: "GET", path: "/v1/account", key: key})
	if u := r.json(t)["usage"].(map[string]any); u["searches"] != 1.0 || u["downloads"] != 1.0 || u["enrichments"] != 1.0 {
		t.Errorf("usage %v", u)
	}
	e.checkInvariants(t, acct)
}

// TestOverageGate holds a job's results while its overage hold is unpaid,
// and hands them out once it is paid (I5).
func TestOverageGate(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99")
	e.setAvailable(t, acct, "people", 5)

	dl := e.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "num_records": 10, "on_insufficient": "overage"})
	if dl.Meta["overage_reserved"] != 5.0 || dl.Meta["credits_reserved"] != 10.0 {
		t.Fatalf("meta %v", dl.Meta)
	}
	id := dl.Job["id"].(string)
	fileKey := storage.ResultKey(acct, id, 0, jobs.CSV)
	if _, err := e.store.Put(ctx, fileKey, strings.NewReader("id\np1\n"), storage.PutOptions{ContentType: "text/csv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: 40, Delivered: 10,
		Results: []jobs.ResultFile{{Key: fileKey, Format: jobs.CSV, Records: 1, Bytes: 6}}}); err != nil {
		t.Fatal(err)
	}
	sr := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "num_records": 2, "on_insufficient": "overage"})
	sid := sr.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, acct, sid, jobs.Outcome{Found: 2, Delivered: 2, Records: json.RawMessage(`[{"id":"p1"},{"id":"p2"}]`)}); err != nil {
		t.Fatal(err)
	}

	r := e.do(t, req{method: "GET", path: "/v1/jobs/" + id, key: key})
	j := r.json(t)
	hold, _ := j["hold"].(map[string]any)
	if j["status"] != "succeeded" || j["overage"] != 5.0 || hold == nil || hold["status"] != "unpaid" || hold["amount_due_cents"] != 50.0 {
		t.Fatalf("held job %s", r.body)
	}
	if _, ok := j["results"]; ok {
		t.Fatalf("results of a held job: %s", r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + id + "/results", key: key})
	d := r.error(t, http.StatusPaymentRequired, "overage_unpaid")
	if d["hold_id"] != hold["id"] || d["overage_credits"] != 5.0 || d["amount_due_cents"] != 50.0 || len(d) != 3 {
		t.Errorf("details %v", d)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + sid, key: key})
	if _, ok := r.json(t)["records"]; ok || r.json(t)["hold"] == nil {
		t.Fatalf("records of a held search: %s", r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs?status=succeeded", key: key})
	if strings.Contains(string(r.body), `"results"`) || strings.Contains(string(r.body), `"records"`) {
		t.Fatalf("the list shows results: %s", r.body)
	}

	// Paid: the links and records appear, and the link works with a plain GET.
	for _, jid := range []string{id, sid} {
		job, err := e.svc.Get(ctx, acct, jid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ledger.PayHold(ctx, job.HoldID, "inv_1"); err != nil {
			t.Fatal(err)
		}
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + id, key: key})
	results, _ := r.json(t)["results"].([]any)
	if len(results) != 1 {
		t.Fatalf("paid job without results: %s", r.body)
	}
	res := results[0].(map[string]any)
	if res["format"] != "csv" || res["records"] != 1.0 || res["bytes"] != 6.0 || res["expires_at"] == nil {
		t.Errorf("result %v", res)
	}
	url := res["url"].(string)
	if !strings.HasPrefix(url, e.srv.URL+"/v1/files/") {
		t.Fatalf("url %q is not an absolute link to the API", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "id\np1\n" {
		t.Fatalf("GET link: %d %q", resp.StatusCode, body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + id + "/results", key: key})
	if r.status != http.StatusOK || len(r.json(t)["results"].([]any)) != 1 {
		t.Fatalf("results after paying: %d %s", r.status, r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + sid, key: key})
	if recs, _ := r.json(t)["records"].([]any); len(recs) != 2 {
		t.Fatalf("paid search without its records: %s", r.body)
	}
	e.checkInvariants(t, acct)
}

// TestSearchWithoutHits shows records: [] for a search that found nothing.
func TestSearchWithoutHits(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99")
	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "city:Nowhere", "num_records": 10})
	id := s.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{}); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, req{method: "GET", path: "/v1/jobs/" + id, key: key})
	j := r.json(t)
	if recs, ok := j["records"].([]any); !ok || len(recs) != 0 || j["total_cost"] != 0.0 || j["credits_released"] != 10.0 {
		t.Fatalf("search without hits: %s", r.body)
	}
	r = e.do(t, req{method: "GET", path: "/v1/jobs/" + id + "/results", key: key})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"results":[]`) || !strings.Contains(string(r.body), `"records":[]`) {
		t.Fatalf("results: %d %s", r.status, r.body)
	}
}

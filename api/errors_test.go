package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInput sends every kind of bad request of API.md's error table and
// checks status, code and details.field.
func TestBadInput(t *testing.T) {
	e := newEnv(t, func(c *apiConfig) { c.BodyLimit = 64 << 10 })
	_, key := e.account(t, "people-1k-99", "local-2k-49")
	_, otherKey := e.account(t, "people-1k-99")
	foreign := e.submit(t, otherKey, "/v1/searches", map[string]any{"data_type": "people", "num_records": 1})
	finance := e.do(t, req{method: "POST", path: "/v1/keys", key: e.admin, body: `{"role":"finance"}`}).json(t)["api_key"].(string)

	items := make([]any, 5)
	for i := range items {
		items[i] = map[string]any{"tracking_id": "t", "name": "x"}
	}
	items[3] = 7

	tests := []struct {
		name   string
		rq     req
		status int
		code   string
		field  string
		msg    string
	}{
		{"malformed JSON", req{method: "POST", path: "/v1/searches", body: `{"data_type": "people",`}, 400, "invalid_request", "body", ""},
		{"syntax error", req{method: "POST", path: "/v1/searches", body: `{"data_type" "people"}`}, 400, "invalid_request", "body", "byte"},
		{"empty body", req{method: "POST", path: "/v1/searches", body: ""}, 400, "invalid_request", "body", ""},
		{"two values", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1} {}`}, 400, "invalid_request", "body", ""},
		{"array body", req{method: "POST", path: "/v1/searches", body: `[1]`}, 400, "invalid_request", "body", ""},
		{"unknown field", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1,"colour":"red"}`}, 400, "invalid_request", "colour", ""},
		{"format on a search", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1,"format":"csv"}`}, 400, "invalid_request", "format", ""},
		{"string num_records", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":"10"}`}, 400, "invalid_request", "num_records", ""},
		{"fractional num_records", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1.5}`}, 400, "invalid_request", "num_records", ""},
		{"huge num_records", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people","num_records":1e30}`}, 400, "invalid_request", "num_records", ""},
		{"over max num_records", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people","num_records":10000001}`}, 400, "invalid_request", "num_records", "10000000"},
		{"negative num_records", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":-3}`}, 400, "invalid_request", "num_records", ""},
		{"missing num_records", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people"}`}, 400, "invalid_request", "num_records", "required"},
		{"wrong type of data_type", req{method: "POST", path: "/v1/searches", body: `{"data_type":5,"num_records":1}`}, 400, "invalid_request", "data_type", ""},
		{"bad query", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","query":"city:(Austin","num_records":1}`}, 400, "invalid_request", "query", "position"},
		{"bad format", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people","num_records":1,"format":"xml"}`}, 400, "invalid_request", "format", ""},
		{"bad policy", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1,"on_insufficient":"maybe"}`}, 400, "invalid_request", "on_insufficient", ""},
		{"not in plan", req{method: "POST", path: "/v1/searches", body: `{"data_type":"products","num_records":1}`}, 400, "invalid_request", "data_type", ""},
		{"overage disabled", req{method: "POST", path: "/v1/searches", body: `{"data_type":"businesses","num_records":1,"on_insufficient":"overage"}`}, 400, "invalid_request", "on_insufficient", ""},
		{"item not an object", req{method: "POST", path: "/v1/enrichments", body: map[string]any{"data_type": "businesses", "match_on": []string{"name"}, "items": items}}, 400, "invalid_request", "items.3", ""},
		{"match_on element", req{method: "POST", path: "/v1/enrichments", body: `{"data_type":"businesses","match_on":["name",2],"items":[{}]}`}, 400, "invalid_request", "match_on.1", ""},
		{"numeric tracking id", req{method: "POST", path: "/v1/enrichments", body: `{"data_type":"businesses","match_on":["name"],"items":[{"tracking_id":1}]}`}, 400, "invalid_request", "items.0.tracking_id", ""},
		{"wrong content type", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1}`, header: map[string]string{"Content-Type": "text/plain"}}, 400, "invalid_request", "Content-Type", ""},
		{"no content type", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1}`, header: map[string]string{"Content-Type": "<unset>"}}, 400, "invalid_request", "Content-Type", ""},
		{"long idempotency key", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400, "invalid_request", "Idempotency-Key", ""},
		{"control idempotency key", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":1}`, header: map[string]string{"Idempotency-Key": "a\tb"}}, 400, "invalid_request", "Idempotency-Key", ""},
		{"oversize body", req{method: "POST", path: "/v1/searches", body: `{"query":"` + strings.Repeat("a", 70<<10) + `"}`}, 413, "payload_too_large", "", ""},
		{"bad list status", req{method: "GET", path: "/v1/jobs?status=done"}, 400, "invalid_request", "status", ""},
		{"bad list limit", req{method: "GET", path: "/v1/jobs?limit=0"}, 400, "invalid_request", "limit", ""},
		{"bad list cursor", req{method: "GET", path: "/v1/jobs?cursor=zzz!"}, 400, "invalid_request", "cursor", ""},
		{"bad ledger cursor", req{method: "GET", path: "/v1/account/ledger?cursor=nope"}, 400, "invalid_request", "cursor", ""},
		{"unknown job", req{method: "GET", path: "/v1/jobs/job_nope"}, 404, "not_found", "", ""},
		{"malformed job id", req{method: "GET", path: "/v1/jobs/a:b"}, 404, "not_found", "", ""},
		{"another account's job", req{method: "GET", path: "/v1/jobs/" + foreign.Job["id"].(string)}, 404, "not_found", "", ""},
		{"another account's results", req{method: "GET", path: "/v1/jobs/" + foreign.Job["id"].(string) + "/results"}, 404, "not_found", "", ""},
		{"cancel another account's job", req{method: "DELETE", path: "/v1/jobs/" + foreign.Job["id"].(string)}, 404, "not_found", "", ""},
		{"unknown path", req{method: "GET", path: "/v1/nothing"}, 404, "not_found", "", ""},
		{"no key", req{method: "GET", path: "/v1/account", key: "-"}, 401, "unauthorized", "", ""},
		{"unknown key", req{method: "GET", path: "/v1/account", key: "cr_live_00000000000000000000000000000000"}, 401, "unauthorized", "", ""},
		{"user on admin endpoint", req{method: "POST", path: "/v1/keys", body: `{"role":"admin"}`}, 403, "forbidden", "", ""},
		{"finance on job endpoint", req{method: "GET", path: "/v1/jobs", key: finance}, 403, "forbidden", "", ""},
		{"admin on account endpoint", req{method: "GET", path: "/v1/account", key: e.admin}, 403, "forbidden", "", ""},
		{"user key for a role", req{method: "POST", path: "/v1/keys", key: e.admin, body: `{"role":"user"}`}, 400, "invalid_request", "role", ""},
		{"credits to unknown account", req{method: "POST", path: "/v1/accounts/nobody/credits", key: e.admin, body: `{"pool":"people","amount":5}`}, 404, "not_found", "", ""},
		{"credits to unknown pool", req{method: "POST", path: "/v1/accounts/nobody/credits", key: e.admin, body: `{"pool":"","amount":5}`}, 400, "invalid_request", "pool", ""},
		{"zero credits", req{method: "POST", path: "/v1/accounts/nobody/credits", key: e.admin, body: `{"pool":"people","amount":0}`}, 400, "invalid_request", "amount", ""},
		{"account with unknown plan", req{method: "POST", path: "/v1/accounts", key: e.admin, body: `{"plans":["gold"]}`}, 400, "invalid_request", "plans", ""},
		{"account with bad id", req{method: "POST", path: "/v1/accounts", key: e.admin, body: `{"id":"A B","plans":["people-1k-99"]}`}, 400, "invalid_request", "id", ""},
		{"keys of unknown account", req{method: "POST", path: "/v1/accounts/nobody/keys", key: e.admin}, 404, "not_found", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := tt.rq
			switch rq.key {
			case "":
				rq.key = key
			case "-":
				rq.key = ""
			}
			r := e.do(t, rq)
			d := r.error(t, tt.status, tt.code)
			if tt.field != "" && d["field"] != tt.field {
				t.Errorf("details.field %v, want %q (%s)", d["field"], tt.field, r.body)
			}
			if tt.msg != "" && !strings.Contains(r.json(t)["message"].(string), tt.msg) {
				t.Errorf("message %q lacks %q", r.json(t)["message"], tt.msg)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
	if n := len(e.queue.Enqueued()); n != 1 {
		t.Errorf("%d jobs queued, want only the foreign one", n)
	}
}

// TestInsufficientCredits checks the 402 of a reject-plan shortfall: the exact
// message and details, and nothing reserved.
func TestInsufficientCredits(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "local-2k-49")
	e.setAvailable(t, acct, "businesses", 25)
	r := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: map[string]any{"data_type": "businesses", "num_records": 50}})
	d := r.error(t, http.StatusPaymentRequired, "insufficient_credits")
	if msg := r.json(t)["message"]; msg != "Not enough credits. Required: 50, Available: 25" {
		t.Errorf("message %q", msg)
	}
	if d["pool"] != "businesses" || d["required"] != 50.0 || d["available"] != 25.0 || len(d) != 3 {
		t.Errorf("details %v", d)
	}
	if got := r.header.Get("X-Credits-Remaining"); got != "25" {
		t.Errorf("X-Credits-Remaining %q, want 25", got)
	}
	if got := e.available(t, acct, "businesses"); got != 25 {
		t.Errorf("available %d after a 402, want 25", got)
	}
	e.checkInvariants(t, acct)
}

package api_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

// TestErrorsSayWhatIsAllowed checks the exact messages of refusals that a
// newcomer met without being told what would be accepted: each names the
// field once and says what it takes.
func TestErrorsSayWhatIsAllowed(t *testing.T) {
	e := newEnv(t)
	_, key := e.account(t, "people-1k-99", "local-2k-49")
	finance := e.do(t, req{method: "POST", path: "/v1/keys", key: e.admin, body: `{"role":"finance"}`}).json(t)["api_key"].(string)

	tests := []struct {
		name   string
		rq     req
		status int
		code   string
		field  string
		msg    string
	}{
		{"query syntax", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","query":"city:(Austin","num_records":1}`},
			400, "invalid_request", "query", "query syntax error at position 5: a group after a field is not supported: write (city:a OR city:b)"},
		{"quote query syntax", req{method: "POST", path: "/v1/quotes", body: `{"kind":"search","data_type":"people","query":"city:(Austin","num_records":1}`},
			400, "invalid_request", "query", "query syntax error at position 5: a group after a field is not supported: write (city:a OR city:b)"},
		{"string num_records of a search", req{method: "POST", path: "/v1/searches", body: `{"data_type":"people","num_records":"10"}`},
			400, "invalid_request", "num_records", "num_records must be an integer from 1 to 1000, got a string"},
		{"fractional num_records of a download", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people","num_records":1.5}`},
			400, "invalid_request", "num_records", "num_records must be an integer from 1 to 10000000, got 1.5"},
		{"numeric data_type", req{method: "POST", path: "/v1/searches", body: `{"data_type":5,"num_records":1}`},
			400, "invalid_request", "data_type", "data_type must be a string, the name of a data type, got a number"},
		{"boolean format", req{method: "POST", path: "/v1/downloads", body: `{"data_type":"people","num_records":1,"format":true}`},
			400, "invalid_request", "format", "format must be a string: csv, json or jsonl, got true or false"},
		{"object match_on", req{method: "POST", path: "/v1/enrichments", body: `{"data_type":"businesses","match_on":{},"items":[{}]}`},
			400, "invalid_request", "match_on", "match_on must be an array of strings, the item fields to match records on, got an object"},
		{"string amount", req{method: "POST", path: "/v1/accounts/nobody/credits", key: e.admin, body: `{"pool":"people","amount":"5"}`},
			400, "invalid_request", "amount", fmt.Sprintf("amount must be a non-zero integer from %d to %d, got a string", -int64(credit.MaxAmount), int64(credit.MaxAmount))},
		{"unknown plan", req{method: "POST", path: "/v1/accounts", key: e.admin, body: `{"plans":["gold"]}`},
			400, "invalid_request", "plans", `plans unknown plan "gold"; the plans are ` + strings.Join(plan.Builtin().IDs(), ", ")},
		{"user on an admin route", req{method: "POST", path: "/v1/keys", body: `{"role":"admin"}`},
			403, "forbidden", "", "This route needs an admin key; this key is user."},
		{"finance on a user route", req{method: "GET", path: "/v1/jobs", key: finance},
			403, "forbidden", "", "This route needs a user key; this key is finance."},
		{"user on a staff route", req{method: "GET", path: "/v1/holds"},
			403, "forbidden", "", "This route needs a finance or admin key; this key is user."},
		{"unknown ledger pool", req{method: "GET", path: "/v1/account/ledger?pool=cars"},
			400, "invalid_request", "pool", `pool "cars" is not a pool of this account: its pools are businesses, people`},
		{"duplicate tracking ids", req{method: "POST", path: "/v1/enrichments",
			body: `{"data_type":"businesses","match_on":["name"],"items":[{"tracking_id":"a","name":"x"},{"tracking_id":"b","name":"y"},{"name":"z"},{"tracking_id":"b","name":"w"}]}`},
			400, "invalid_request", "items.3.tracking_id", `items.3.tracking_id duplicates items.1.tracking_id ("b"): each item's tracking_id must be unique`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := tt.rq
			if rq.key == "" {
				rq.key = key
			}
			r := e.do(t, rq)
			d := r.error(t, tt.status, tt.code)
			if tt.field != "" && d["field"] != tt.field {
				t.Errorf("details.field %v, want %q (%s)", d["field"], tt.field, r.body)
			}
			if msg := r.json(t)["message"]; msg != tt.msg {
				t.Errorf("message %q\nwant    %q", msg, tt.msg)
			}
		})
	}
	if n := len(e.queue.Enqueued()); n != 0 {
		t.Errorf("%d jobs queued, want none", n)
	}
}

// TestMethodNotAllowed checks that a known path asked with a method it does
// not take answers 405 method_not_allowed with Allow, in the JSON error
// shape, while an unknown path stays 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	_, key := e.account(t, "people-1k-99")
	tests := []struct {
		method, path string
		allow        []string
	}{
		{"DELETE", "/v1/searches", []string{"POST"}},
		{"PUT", "/v1/jobs/job_x", []string{"DELETE", "GET", "HEAD"}},
		{"POST", "/v1/account", []string{"GET", "HEAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, req{method: tt.method, path: tt.path, key: key})
			d := r.error(t, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := r.header.Get("Allow"); got != strings.Join(tt.allow, ", ") {
				t.Errorf("Allow %q, want %q", got, strings.Join(tt.allow, ", "))
			}
			var allow []string
			for _, m := range d["allow"].([]any) {
				allow = append(allow, m.(string))
			}
			if !slices.Equal(allow, tt.allow) {
				t.Errorf("details.allow %v, want %v", allow, tt.allow)
			}
			want := "This endpoint takes " + strings.Join(tt.allow, ", ") + ", not " + tt.method + "."
			if msg := r.json(t)["message"]; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		})
	}
	r := e.do(t, req{method: "DELETE", path: "/v1/nothing", key: key})
	r.error(t, http.StatusNotFound, "not_found")
}

// lockedBuffer is a log the test reads after the server wrote it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestAccessLog checks the one info line per request: method, path,
// status, duration, the key's id when a key authenticated, request id.
func TestAccessLog(t *testing.T) {
	log := &lockedBuffer{}
	e := newEnv(t, func(c *apiConfig) { c.Logger = slog.New(slog.NewTextHandler(log, nil)) })
	_, key := e.account(t, "people-1k-99")
	e.do(t, req{method: "GET", path: "/v1/account", key: key, header: map[string]string{"X-Request-Id": "req-one"}})
	e.do(t, req{method: "GET", path: "/v1/account", header: map[string]string{"X-Request-Id": "req-two"}})
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=INFO msg="api: request" method=GET path=/v1/account status=200 duration=\S+ key_id=key_[0-9a-z]+ request_id=req-one\n`),
		regexp.MustCompile(`level=INFO msg="api: request" method=GET path=/v1/account status=401 duration=\S+ request_id=req-two\n`),
	} {
		if !want.MatchString(log.String()) {
			t.Errorf("the log lacks %s:\n%s", want, log.String())
		}
	}
}

// TestQueryFieldsChecked checks that, with the dataset, a query naming a
// field the data type's records lack is a 400 on query that names it and
// lists the data type's fields, reserving nothing; known fields, and an
// object holding some, are accepted.
func TestQueryFieldsChecked(t *testing.T) {
	e := newSourceEnv(t)
	acct, key := e.account(t, "people-1k-99")
	fields, err := testDataset(t).QueryFields("people")
	if err != nil {
		t.Fatal(err)
	}
	before := e.available(t, acct, "people")
	for _, tt := range []struct{ path, body, field string }{
		{"/v1/searches", `{"data_type":"people","query":"nosuchfield:x","num_records":1}`, "nosuchfield"},
		{"/v1/downloads", `{"data_type":"people","query":"id:* AND CITY:austin","num_records":1}`, "CITY"},
		{"/v1/quotes", `{"kind":"search","data_type":"people","query":"NOT Name:x","num_records":1}`, "Name"},
	} {
		r := e.do(t, req{method: "POST", path: tt.path, key: key, body: tt.body})
		d := r.error(t, http.StatusBadRequest, "invalid_request")
		if d["field"] != "query" {
			t.Errorf("%s: details.field %v, want query", tt.body, d["field"])
		}
		want := fmt.Sprintf("query names the field %q, which people records do not have (field names are case-sensitive); their fields are %s",
			tt.field, strings.Join(fields, ", "))
		if msg := r.json(t)["message"]; msg != want {
			t.Errorf("%s: message %q\nwant %q", tt.body, msg, want)
		}
	}
	if got := e.available(t, acct, "people"); got != before {
		t.Errorf("available %d after refusals, want %d", got, before)
	}
	e.checkInvariants(t, acct)

	for _, q := range []string{fields[len(fields)-1] + ":*", "id:x OR name:y", "*"} {
		e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": q, "num_records": 1})
	}
	// A property's brokers are an array of objects: brokers names them all,
	// brokers.agent one field of each.
	_, propKey := e.account(t, "properties-10k-349")
	for _, q := range []string{"brokers:*", "brokers.agent:*"} {
		e.submit(t, propKey, "/v1/searches", map[string]any{"data_type": "properties", "query": q, "num_records": 1})
	}
}

// TestQueryFieldsUnknownWithoutDataset checks that an API without the
// dataset, which cannot know the fields, accepts any.
func TestQueryFieldsUnknownWithoutDataset(t *testing.T) {
	e := newEnv(t)
	_, key := e.account(t, "people-1k-99")
	e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "nosuchfield:x", "num_records": 1})
}

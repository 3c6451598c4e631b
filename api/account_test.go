package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAccountLifecycle creates an account over the API, uses its key, creates
// more keys, tops it up and adjusts it, and reads the account.
func TestAccountLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, req{method: "POST", path: "/v1/accounts", key: e.admin, body: `{"id":"acme","name":"Acme","plans":["people-1k-99"]}`})
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	created := r.json(t)
	key, _ := created["api_key"].(string)
	if len(key) != len("cr_live_")+32 || key[:8] != "cr_live_" {
		t.Fatalf("api_key %q", key)
	}
	if acct := created["account"].(map[string]any); acct["id"] != "acme" || !cmp.Equal(acct["plan_ids"], []any{"people-1k-99"}) {
		t.Fatalf("account %v", acct)
	}
	// Only the key's hash is stored.
	if n, err := e.client.Exists(ctx, e.prefix+":apikey:"+key).Result(); err != nil || n != 0 {
		t.Fatalf("the plain key is a Redis key (%d, %v)", n, err)
	}
	r = e.do(t, req{method: "POST", path: "/v1/accounts", key: e.admin, body: `{"id":"acme","plans":["people-1k-99"]}`})
	r.error(t, http.StatusConflict, "conflict")

	r = e.do(t, req{method: "GET", path: "/v1/account", key: key})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	a := r.json(t)
	if a["id"] != "acme" || a["name"] != "Acme" || a["role"] != "user" {
		t.Fatalf("account %s", r.body)
	}
	people := a["pools"].(map[string]any)["people"].(map[string]any)
	for k, want := range map[string]any{"allocated": 1000.0, "used": 0.0, "reserved": 0.0, "available": 1000.0,
		"overage_enabled": true, "overage_limit": 100.0, "overage_reserved": 0.0, "overage_outstanding": 0.0} {
		if people[k] != want {
			t.Errorf("pools.people.%s = %v, want %v", k, people[k], want)
		}
	}
	if people["period_start"] == nil || people["period_end"] == nil {
		t.Errorf("pool without its period: %v", people)
	}
	usage := a["usage"].(map[string]any)
	if usage["api_requests"] != 1.0 || usage["searches"] != 0.0 || usage["period_start"] != people["period_start"] {
		t.Errorf("usage %v", usage)
	}
	if got := r.header.Get("X-Credits-Remaining"); got != "1000" {
		t.Errorf("X-Credits-Remaining %q", got)
	}

	// A second user key of the account works; a finance key may not read it.
	r = e.do(t, req{method: "POST", path: "/v1/accounts/acme/keys", key: e.admin})
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	key2 := r.json(t)["api_key"].(string)
	if r := e.do(t, req{method: "GET", path: "/v1/account", key: key2}); r.status != http.StatusOK || r.json(t)["id"] != "acme" {
		t.Fatalf("second key: %d %s", r.status, r.body)
	}
	r = e.do(t, req{method: "POST", path: "/v1/keys", key: e.admin, body: `{"role":"admin"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	admin2 := r.json(t)["api_key"].(string)

	// Top up, adjust down, and refuse to take more than is available.
	r = e.do(t, req{method: "POST", path: "/v1/accounts/acme/credits", key: admin2, body: `{"pool":"people","amount":500,"reason":"top-up"}`})
	if r.status != http.StatusOK || r.json(t)["allocated"] != 1500.0 || r.json(t)["available"] != 1500.0 {
		t.Fatalf("top-up: %d %s", r.status, r.body)
	}
	r = e.do(t, req{method: "POST", path: "/v1/accounts/acme/credits", key: e.admin, body: `{"pool":"people","amount":-1400,"reason":"correction"}`})
	if r.status != http.StatusOK || r.json(t)["available"] != 100.0 {
		t.Fatalf("adjust: %d %s", r.status, r.body)
	}
	r = e.do(t, req{method: "POST", path: "/v1/accounts/acme/credits", key: e.admin, body: `{"pool":"people","amount":-101}`})
	d := r.error(t, http.StatusPaymentRequired, "insufficient_credits")
	if d["required"] != 101.0 || d["available"] != 100.0 || d["pool"] != "people" {
		t.Errorf("details %v", d)
	}
	if r.header.Get("X-Credits-Remaining") != "" {
		t.Error("X-Credits-Remaining on an admin response")
	}
	r = e.do(t, req{method: "POST", path: "/v1/accounts/acme/credits", key: e.admin, body: `{"pool":"gold","amount":5}`})
	if d := r.error(t, http.StatusBadRequest, "invalid_request"); d["field"] != "pool" {
		t.Errorf("details %v", d)
	}
	e.checkInvariants(t, "acme")
}

// TestLedgerPaging reads the journal in pages: oldest first, seq rising by
// one, every entry once, and a null cursor on the last page.
func TestLedgerPaging(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99", "local-2k-49")
	for i := range 5 {
		if _, err := e.ledger.TopUp(ctx, acct, "people", int64(i+1), fmt.Sprint("top-up ", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []float64
	cursor := ""
	pages := 0
	for {
		path := "/v1/account/ledger?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do(t, req{method: "GET", path: path, key: key})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		page := r.json(t)
		pages++
		for _, x := range page["entries"].([]any) {
			en := x.(map[string]any)
			for _, f := range []string{"seq", "at", "type", "pool", "amount", "available_after"} {
				if _, ok := en[f]; !ok {
					t.Fatalf("entry without %s: %v", f, en)
				}
			}
			seqs = append(seqs, en["seq"].(float64))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			if page["next_cursor"] != nil {
				t.Fatalf("last next_cursor %v, want null", page["next_cursor"])
			}
			break
		}
		cursor = next
	}
	// Two grants and five top-ups.
	want := []float64{1, 2, 3, 4, 5, 6, 7}
	if !cmp.Equal(seqs, want) {
		t.Fatalf("seqs %v, want %v", seqs, want)
	}
	if pages != 4 {
		t.Errorf("%d pages of 2 for 7 entries", pages)
	}
	r := e.do(t, req{method: "GET", path: "/v1/account/ledger?pool=businesses", key: key})
	entries := r.json(t)["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["type"] != "grant" {
		t.Errorf("businesses entries %s", r.body)
	}
}

package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
)

// tickPlans is a plan whose periods last two seconds.
const tickPlans = `
plans:
  ticks:
    pool: people
    data_types: [people]
    operations: [search]
    credits: 5
    refresh: "@every 2s"
    on_insufficient: reject
`

// TestPeriodStartsAtBoundary spends a period's credits over HTTP, waits for
// the boundary with no scheduler running, and finds the new period in force
// for GET /v1/account and for a submit, with its refresh journaled.
func TestPeriodStartsAtBoundary(t *testing.T) {
	catalog, err := plan.Parse([]byte(tickPlans))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, catalog)
	acct, key := e.account(t, "ticks")
	acct2, key2 := e.account(t, "ticks") // meets the boundary with a submit, not a read
	search := map[string]any{"data_type": "people", "query": "*", "num_records": 5}
	e.submit(t, key, "/v1/searches", search)
	e.submit(t, key2, "/v1/searches", search)
	e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: search}).error(t, http.StatusPaymentRequired, "insufficient_credits")

	pool := func() map[string]any {
		t.Helper()
		r := e.do(t, req{method: "GET", path: "/v1/account", key: key})
		if r.status != http.StatusOK {
			t.Fatalf("account: %d %s", r.status, r.body)
		}
		return r.json(t)["pools"].(map[string]any)["people"].(map[string]any)
	}
	first := pool()
	end, err := time.Parse(time.RFC3339Nano, first["period_end"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if first["available"] != 0.0 || first["reserved"] != 5.0 {
		t.Fatalf("first period after spending it: %v", first)
	}
	time.Sleep(time.Until(end) + 100*time.Millisecond)
	if s := e.submit(t, key2, "/v1/searches", search); s.Meta["credits_reserved"] != 5.0 {
		t.Fatalf("a submit after the boundary: %v", s.Meta)
	}

	// The read sees the new period: the job in flight's credits are its
	// own, and the new period has its whole grant.
	now := pool()
	start, err := time.Parse(time.RFC3339Nano, now["period_start"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if start.Before(end) || now["available"] != 5.0 || now["reserved"] != 0.0 || now["used"] != 0.0 {
		t.Fatalf("after the boundary at %s: %v", end, now)
	}
	e.submit(t, key, "/v1/searches", search)

	entries, err := e.ledger.JournalAll(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	refreshes := 0
	for _, en := range entries {
		if en.Type == credit.EntryRefresh {
			refreshes++
		}
	}
	if refreshes < 1 {
		t.Fatalf("no refresh entry after the boundary: %+v", entries)
	}
	ledgertest.CheckAccount(t, e.ledger, acct)
	ledgertest.CheckAccount(t, e.ledger, acct2)
}

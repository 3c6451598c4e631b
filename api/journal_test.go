package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger"
)

// TestLedgerBadCursor: a cursor that is no journal position, such as one
// whose numbers overflow, is a 400 on the cursor field that says what a
// cursor looks like, not a Redis error (503).
func TestLedgerBadCursor(t *testing.T) {
	e := newEnv(t)
	_, key := e.account(t, "people-1k-99")
	for _, c := range []string{"99999999999999999999999-0", "0-99999999999999999999", "18446744073709551615-18446744073709551615", "1-x", "01-0"} {
		r := e.do(t, req{method: "GET", path: "/v1/account/ledger?cursor=" + url.QueryEscape(c), key: key})
		d := r.error(t, http.StatusBadRequest, "invalid_request")
		if d["field"] != "cursor" {
			t.Fatalf("cursor %q: details %v, want field cursor", c, d)
		}
		if msg, _ := r.json(t)["message"].(string); !strings.Contains(msg, "two whole numbers joined by a dash") {
			t.Fatalf("cursor %q: message %q does not say what a cursor looks like", c, msg)
		}
	}
}

// TestLedgerScanBound pages one pool out of a journal longer than a page
// reads: the first page is short, with a next cursor, and the pages
// together hold the pool's entries once; checkpoints are never listed.
func TestLedgerScanBound(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99", "local-2k-49")
	pools, err := e.ledger.Pools(ctx, acct)
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools: %v %v", pools, err)
	}
	other := pools[0].Name
	if other == "people" {
		other = pools[1].Name
	}
	for range ledger.JournalScan + 5 {
		if _, err := e.ledger.TopUp(ctx, acct, other, 1, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.ledger.Checkpoint(ctx, acct, "day1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.TopUp(ctx, acct, "people", 3, "", ""); err != nil {
		t.Fatal(err)
	}
	var types []string
	cursor, pages := "", 0
	for {
		path := "/v1/account/ledger?pool=people&limit=10"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.do(t, req{method: "GET", path: path, key: key})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		page := r.json(t)
		pages++
		for _, x := range page["entries"].([]any) {
			types = append(types, x.(map[string]any)["type"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		if pages > ledger.JournalScan {
			t.Fatal("no end to the pages")
		}
		cursor = next
	}
	if strings.Join(types, ",") != "grant,topup" || pages != 2 {
		t.Fatalf("people: %v in %d pages, want grant,topup in 2", types, pages)
	}
	r := e.do(t, req{method: "GET", path: "/v1/account/ledger?limit=1000&cursor=" + url.QueryEscape(lastID(t, e, acct)), key: key})
	if r.status != http.StatusOK || strings.Contains(string(r.body), "checkpoint") {
		t.Fatalf("the page over the checkpoint: %d %s", r.status, r.body)
	}
	e.checkInvariants(t, acct)
}

// lastID is the position of the journal's entry before its last two (the
// checkpoint and the top-up after it).
func lastID(t *testing.T, e *env, acct string) string {
	t.Helper()
	all, err := e.ledger.JournalAll(ctx, acct)
	if err != nil || len(all) < 3 {
		t.Fatalf("journal: %d entries, %v", len(all), err)
	}
	return all[len(all)-3].ID
}

package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
)

// grantJSON is a grant as the API shows it.
type grantJSON struct {
	ID        string     `json:"id"`
	Pool      string     `json:"pool"`
	Amount    int64      `json:"amount"`
	Remaining int64      `json:"remaining"`
	ExpiresAt *time.Time `json:"expires_at"`
	Priority  int64      `json:"priority"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	Status    string     `json:"status"`
}

// addGrant posts a grant as the admin and returns the 201's grant.
func (e *env) addGrant(t testing.TB, acct, idemKey string, body map[string]any) grantJSON {
	t.Helper()
	h := map[string]string{}
	if idemKey != "" {
		h["Idempotency-Key"] = idemKey
	}
	r := e.do(t, req{method: "POST", path: "/v1/accounts/" + acct + "/grants", key: e.admin, body: body, header: h})
	if r.status != http.StatusCreated {
		t.Fatalf("add grant %v: %d %s", body, r.status, r.body)
	}
	return decodeGrant(t, r.body)
}

func decodeGrant(t testing.TB, b []byte) grantJSON {
	t.Helper()
	var g grantJSON
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// grants lists grants at path with key.
func (e *env) grants(t testing.TB, key, path string) []grantJSON {
	t.Helper()
	r := e.do(t, req{method: "GET", path: path, key: key})
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var out struct {
		Grants []grantJSON `json:"grants"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Grants == nil {
		t.Fatalf("GET %s: grants is not a list: %s", path, r.body)
	}
	return out.Grants
}

func grantIDs(gs []grantJSON) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID + ":" + g.Status
	}
	return ids
}

// entryLine is a journal entry said in one line: type pool amount grant.
func entryLines(entries []map[string]any, types ...string) []string {
	var out []string
	for _, e := range entries {
		ty := e["type"].(string)
		keep := len(types) == 0
		for _, want := range types {
			keep = keep || ty == want
		}
		if !keep {
			continue
		}
		g, _ := e["grant_id"].(string)
		out = append(out, fmt.Sprintf("%s %v %s", ty, e["amount"], g))
	}
	return out
}

// checkGrantAccount asserts the invariants and the journal replay of an
// account (ledgertest.CheckAccount), and that the ledger's own audit finds
// nothing wrong with it.
func checkGrantAccount(t *testing.T, l *ledger.Redis, acct string) {
	t.Helper()
	ledgertest.CheckAccount(t, l, acct)
	rep, err := l.Verify(ctx, ledger.VerifyOptions{Account: acct})
	if err != nil {
		t.Fatalf("verify %s: %v", acct, err)
	}
	if !rep.OK {
		t.Errorf("verify %s: %+v", acct, rep.Failures)
	}
}

// TestGrants adds a grant, reads it on the account, spends past the period
// allocation into it, settles, and voids it, over HTTP on real Redis, with
// the journal replaying to the pools after each credit change.
func TestGrants(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99")
	e.setAvailable(t, acct, "people", 10) // the period allocation leaves 10

	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	body := map[string]any{"pool": "people", "amount": 50, "expires_at": expires.Format(time.RFC3339), "priority": 0, "reason": "pack-50"}
	g := e.addGrant(t, acct, "grant-1", body)
	if !strings.HasPrefix(g.ID, "grant_") || g.Pool != "people" || g.Amount != 50 || g.Remaining != 50 || g.Status != "active" ||
		g.Reason != "pack-50" || g.Priority != 0 || g.ExpiresAt == nil || !g.ExpiresAt.Equal(expires) || g.CreatedAt.IsZero() {
		t.Fatalf("grant %+v", g)
	}
	checkGrantAccount(t, e.ledger, acct)

	// The same Idempotency-Key adds once: the replay answers the same
	// grant; another admin key sending the same key and body gets past the
	// API's replay (its records are per key) and the ledger adds nothing,
	// since the grant's id comes from the account and the key.
	if again := e.addGrant(t, acct, "grant-1", body); again.ID != g.ID {
		t.Errorf("replay made grant %s, first was %s", again.ID, g.ID)
	}
	admin2 := e.newKey(t, "/v1/keys", map[string]any{"role": "admin"}).APIKey
	r := e.do(t, req{method: "POST", path: "/v1/accounts/" + acct + "/grants", key: admin2, body: body, header: map[string]string{"Idempotency-Key": "grant-1"}})
	if r.status != http.StatusCreated || decodeGrant(t, r.body).ID != g.ID || decodeGrant(t, r.body).Amount != 50 {
		t.Errorf("the same key from another admin key: %d %s, want 201 with grant %s", r.status, r.body, g.ID)
	}
	// The same key with other terms is a conflict, and adds nothing.
	admin3 := e.newKey(t, "/v1/keys", map[string]any{"role": "admin"}).APIKey
	other := map[string]any{"pool": "people", "amount": 60}
	r = e.do(t, req{method: "POST", path: "/v1/accounts/" + acct + "/grants", key: admin3, body: other, header: map[string]string{"Idempotency-Key": "grant-1"}})
	r.error(t, http.StatusConflict, "idempotency_conflict")
	if gs := e.grants(t, key, "/v1/account/grants"); len(gs) != 1 || gs[0].ID != g.ID || gs[0].Amount != 50 {
		t.Fatalf("grants after the retries: %+v, want the one grant of 50", gs)
	}
	if n := len(entryLines(e.journal(t, key), "grant_added")); n != 1 {
		t.Errorf("%d grant_added entries, want 1", n)
	}

	// The account counts it: available is the allocation's 10 plus 50.
	r = e.do(t, req{method: "GET", path: "/v1/account", key: key})
	pool := r.json(t)["pools"].(map[string]any)["people"].(map[string]any)
	if pool["grants_available"] != 50.0 || pool["available"] != 60.0 {
		t.Errorf("pool %v, want grants_available 50, available 60", pool)
	}
	if got := r.header.Get("X-Credits-Remaining"); got != "60" {
		t.Errorf("X-Credits-Remaining %q, want 60", got)
	}

	// A search of 40 takes the allocation's 10, then 30 from the grant.
	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "", "num_records": 40, "on_insufficient": "reject"})
	if s.Meta["credits_reserved"] != 40.0 || s.Meta["overage_reserved"] != 0.0 || s.Meta["credits_remaining"] != 20.0 {
		t.Errorf("meta %v, want 40 reserved from prepaid credits, 20 remaining", s.Meta)
	}
	want := []string{"reserve 10 ", "reserve 30 " + g.ID}
	if got := entryLines(e.journal(t, key), "reserve"); !cmp.Equal(got, want) {
		t.Errorf("reserve entries %q, want %q", got, want)
	}
	pool = e.peoplePool(t, key)
	if pool["grants_available"] != 20.0 || pool["available"] != 20.0 {
		t.Errorf("pool after the reserve %v, want grants_available 20, available 20", pool)
	}
	checkGrantAccount(t, e.ledger, acct)

	// It costs 25: the allocation's 10 and 15 of the grant are posted, the
	// grant's other 15 go back to it.
	id := s.Job["id"].(string)
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	recs := make([]string, 25)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"id":"p%d"}`, i)
	}
	if _, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: 25, Delivered: 25, Records: json.RawMessage("[" + strings.Join(recs, ",") + "]")}); err != nil {
		t.Fatal(err)
	}
	entries := e.journal(t, key)
	for _, ty := range []string{"post", "release"} {
		var grantAmount float64
		for _, en := range entries {
			if en["type"] == ty && en["grant_id"] == g.ID {
				grantAmount += en["amount"].(float64)
				if en["job_id"] != id {
					t.Errorf("%s entry of the grant without the job: %v", ty, en)
				}
			}
		}
		if grantAmount != 15 {
			t.Errorf("%s entries naming the grant sum to %v, want 15: %q", ty, grantAmount, entryLines(entries))
		}
	}
	gs := e.grants(t, key, "/v1/account/grants")
	if len(gs) != 1 || gs[0].Remaining != 35 || gs[0].Status != "active" {
		t.Errorf("grant after the settle %+v, want remaining 35", gs)
	}
	pool = e.peoplePool(t, key)
	if pool["grants_available"] != 35.0 || pool["available"] != 35.0 || pool["used"] != 10.0 {
		t.Errorf("pool after the settle %v, want grants_available 35, available 35, used 10", pool)
	}
	checkGrantAccount(t, e.ledger, acct)

	// More grants list in spending order: priority, then expiry (never
	// last); a voided one comes after the active ones.
	never := e.addGrant(t, acct, "", map[string]any{"pool": "people", "amount": 5, "expires_at": nil, "reason": "promo"})
	first := e.addGrant(t, acct, "", map[string]any{"pool": "people", "amount": 7, "priority": -1})
	if never.ExpiresAt != nil || never.Priority != 0 || first.Priority != -1 {
		t.Errorf("grants %+v %+v", never, first)
	}
	if got, want := grantIDs(e.grants(t, key, "/v1/account/grants")), []string{first.ID + ":active", g.ID + ":active", never.ID + ":active"}; !cmp.Equal(got, want) {
		t.Errorf("grants %q, want %q", got, want)
	}

	// Void forfeits what the grant could still give, journaled.
	r = e.do(t, req{method: "DELETE", path: "/v1/accounts/" + acct + "/grants/" + g.ID + "?reason=refunded", key: e.admin})
	if r.status != http.StatusOK {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	if v := decodeGrant(t, r.body); v.ID != g.ID || v.Status != "voided" || v.Remaining != 0 || v.Amount != 50 {
		t.Errorf("voided grant %+v", v)
	}
	var voided []map[string]any
	for _, en := range e.journal(t, key) {
		if en["type"] == "grant_voided" {
			voided = append(voided, en)
		}
	}
	if len(voided) != 1 || voided[0]["grant_id"] != g.ID || voided[0]["amount"] != 35.0 || voided[0]["pool"] != "people" {
		t.Errorf("grant_voided entries %v, want one of 35 naming %s", voided, g.ID)
	}
	pool = e.peoplePool(t, key)
	if pool["grants_available"] != 12.0 || pool["available"] != 12.0 {
		t.Errorf("pool after the void %v, want the other grants' 12", pool)
	}
	if got, want := grantIDs(e.grants(t, e.admin, "/v1/accounts/"+acct+"/grants")), []string{first.ID + ":active", never.ID + ":active", g.ID + ":voided"}; !cmp.Equal(got, want) {
		t.Errorf("grants after the void %q, want %q", got, want)
	}
	// Voiding again changes nothing; an unknown grant is 404.
	r = e.do(t, req{method: "DELETE", path: "/v1/accounts/" + acct + "/grants/" + g.ID, key: e.admin})
	if r.status != http.StatusOK || decodeGrant(t, r.body).Status != "voided" {
		t.Errorf("void again: %d %s", r.status, r.body)
	}
	if n := len(entryLines(e.journal(t, key), "grant_voided")); n != 1 {
		t.Errorf("%d grant_voided entries after voiding twice, want 1", n)
	}
	for _, path := range []string{
		"/v1/accounts/" + acct + "/grants/grant_nosuchgrant",
		"/v1/accounts/" + acct + "/grants/not-a-grant",
		"/v1/accounts/nobody/grants/" + g.ID,
	} {
		e.do(t, req{method: "DELETE", path: path, key: e.admin}).error(t, http.StatusNotFound, "not_found")
	}
	checkGrantAccount(t, e.ledger, acct)
	e.checkInvariants(t, acct)
}

// TestGrantRequests refuses bad grants with a 400 that names the field and
// says what it allows, and changes nothing.
func TestGrantRequests(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99", "local-2k-49")
	before := len(e.journal(t, key))
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name  string
		body  any
		field string
		says  string
	}{
		{"no pool", map[string]any{"amount": 5}, "pool", "businesses, people"},
		{"unknown pool", map[string]any{"pool": "nope", "amount": 5}, "pool", "its pools are businesses, people"},
		{"no amount", map[string]any{"pool": "people"}, "amount", "from 1 to"},
		{"zero amount", map[string]any{"pool": "people", "amount": 0}, "amount", "from 1 to"},
		{"negative amount", map[string]any{"pool": "people", "amount": -5}, "amount", "from 1 to"},
		{"huge amount", map[string]any{"pool": "people", "amount": int64(1) << 50}, "amount", "from 1 to"},
		{"fractional amount", `{"pool": "people", "amount": 1.5}`, "amount", "from 1 to"},
		{"amount as text", `{"pool": "people", "amount": "5"}`, "amount", "from 1 to"},
		{"past expiry", map[string]any{"pool": "people", "amount": 5, "expires_at": past}, "expires_at", "in the future"},
		{"bad expiry", map[string]any{"pool": "people", "amount": 5, "expires_at": "next week"}, "expires_at", "RFC 3339"},
		{"priority too high", map[string]any{"pool": "people", "amount": 5, "priority": 2_000_000}, "priority", "from -1000000 to 1000000"},
		{"priority too low", map[string]any{"pool": "people", "amount": 5, "priority": -2_000_000}, "priority", "from -1000000 to 1000000"},
		{"fractional priority", `{"pool": "people", "amount": 5, "priority": 0.5}`, "priority", "from -1000000 to 1000000"},
		{"long reason", map[string]any{"pool": "people", "amount": 5, "reason": strings.Repeat("x", 501)}, "reason", "at most 500"},
		{"unknown field", map[string]any{"pool": "people", "amount": 5, "credits": 5}, "credits", "not a field"},
		{"no body", "", "body", "JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, req{method: "POST", path: "/v1/accounts/" + acct + "/grants", key: e.admin, body: c.body})
			d := r.error(t, http.StatusBadRequest, "invalid_request")
			if d["field"] != c.field {
				t.Errorf("details.field %v, want %s: %s", d["field"], c.field, r.body)
			}
			if msg := r.json(t)["message"].(string); !strings.Contains(msg, c.says) {
				t.Errorf("message %q does not say %q", msg, c.says)
			}
		})
	}
	// An unknown account is 404 whatever the body.
	for _, path := range []string{"/v1/accounts/nobody/grants", "/v1/accounts/NOT%20AN%20ID/grants"} {
		e.do(t, req{method: "POST", path: path, key: e.admin, body: map[string]any{"pool": "people", "amount": 5}}).error(t, http.StatusNotFound, "not_found")
		e.do(t, req{method: "GET", path: path, key: e.admin}).error(t, http.StatusNotFound, "not_found")
	}
	if gs := e.grants(t, key, "/v1/account/grants"); len(gs) != 0 {
		t.Errorf("grants after refused requests: %+v", gs)
	}
	if after := len(e.journal(t, key)); after != before {
		t.Errorf("journal grew from %d to %d entries on refused requests", before, after)
	}
	if p := e.peoplePool(t, key); p["grants_available"] != 0.0 || p["available"] != 1000.0 {
		t.Errorf("pool after refused requests %v", p)
	}
	checkGrantAccount(t, e.ledger, acct)
}

// TestGrantRoles: only admin keys add and void grants; a user key reads
// its own account's grants and never learns of another's.
func TestGrantRoles(t *testing.T) {
	e := newEnv(t)
	a, keyA := e.account(t, "people-1k-99")
	b, keyB := e.account(t, "people-1k-99")
	fin := e.financeKey(t)
	g := e.addGrant(t, a, "", map[string]any{"pool": "people", "amount": 5})
	add := map[string]any{"pool": "people", "amount": 5}

	for _, k := range []string{keyA, keyB, fin} {
		e.do(t, req{method: "POST", path: "/v1/accounts/" + a + "/grants", key: k, body: add}).error(t, http.StatusForbidden, "forbidden")
		e.do(t, req{method: "DELETE", path: "/v1/accounts/" + a + "/grants/" + g.ID, key: k}).error(t, http.StatusForbidden, "forbidden")
	}
	// Another account's grants, and an account that does not exist, are
	// the same 404 to a user key.
	for _, path := range []string{"/v1/accounts/" + a + "/grants", "/v1/accounts/nobody/grants"} {
		r := e.do(t, req{method: "GET", path: path, key: keyB})
		r.error(t, http.StatusNotFound, "not_found")
		if strings.Contains(string(r.body), g.ID) {
			t.Errorf("%s shows account B's key the grant: %s", path, r.body)
		}
	}
	if gs := e.grants(t, keyB, "/v1/account/grants"); len(gs) != 0 {
		t.Errorf("account B's grants %+v, want none", gs)
	}
	if gs := e.grants(t, keyB, "/v1/accounts/"+b+"/grants"); len(gs) != 0 {
		t.Errorf("account B's grants by id %+v, want none", gs)
	}
	for _, k := range []string{keyA, fin, e.admin} {
		if gs := e.grants(t, k, "/v1/accounts/"+a+"/grants"); len(gs) != 1 || gs[0].ID != g.ID {
			t.Errorf("account A's grants %+v, want %s", gs, g.ID)
		}
	}
	for _, k := range []string{fin, e.admin} {
		e.do(t, req{method: "GET", path: "/v1/account/grants", key: k}).error(t, http.StatusForbidden, "forbidden")
	}
	if gs := e.grants(t, keyA, "/v1/account/grants"); len(gs) != 1 || gs[0].Status != "active" || gs[0].Remaining != 5 {
		t.Errorf("account A's grants %+v", gs)
	}
	checkGrantAccount(t, e.ledger, a)
	checkGrantAccount(t, e.ledger, b)
}

// TestGrantExpiry moves the ledger's clock past a grant's expiry: the
// account stops counting it, its list shows it expired, the journal
// forfeits what no job held, and a job in flight still spends what it
// reserved from it; what that job gives back is forfeited too.
func TestGrantExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	var svc *jobs.Service
	var l *ledger.Redis
	e := newEnv(t, withClock(clock), func(cfg *api.Config) {
		l = ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix, NowFunc: clock.Now})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		svc = jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: &jobstest.Queue{}, Accounts: js, Catalog: plan.Builtin(), NowFunc: clock.Now})
		cfg.Jobs, cfg.Ledger = svc, l
	})
	e.svc, e.ledger = svc, l
	acct, key := e.account(t, "people-1k-99")
	e.setAvailable(t, acct, "people", 0)
	g := e.addGrant(t, acct, "", map[string]any{"pool": "people", "amount": 20, "expires_at": clock.Now().Add(time.Hour).Format(time.RFC3339)})

	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "", "num_records": 15, "on_insufficient": "reject"})
	id := s.Job["id"].(string)
	if s.Meta["credits_reserved"] != 15.0 || s.Meta["credits_remaining"] != 5.0 {
		t.Fatalf("meta %v, want 15 reserved from the grant, 5 left", s.Meta)
	}

	clock.Add(2 * time.Hour)
	if p := e.peoplePool(t, key); p["grants_available"] != 0.0 || p["available"] != 0.0 {
		t.Errorf("pool after the expiry %v, want nothing available", p)
	}
	gs := e.grants(t, key, "/v1/account/grants")
	if len(gs) != 1 || gs[0].ID != g.ID || gs[0].Status != "expired" || gs[0].Remaining != 0 {
		t.Fatalf("grants after the expiry %+v, want %s expired with remaining 0", gs, g.ID)
	}
	var expired []string
	for _, en := range e.journal(t, key) {
		if en["type"] == "grant_expired" {
			expired = append(expired, fmt.Sprintf("%v %v", en["grant_id"], en["amount"]))
		}
	}
	if want := []string{g.ID + " 5"}; !cmp.Equal(expired, want) {
		t.Errorf("grant_expired entries %q, want %q: the 5 no job held", expired, want)
	}
	checkGrantAccount(t, e.ledger, acct)

	// The job in flight spends 10 of its 15; the 5 it gives back are
	// forfeited with the grant, not made available.
	if _, err := e.svc.Start(ctx, acct, id); err != nil {
		t.Fatal(err)
	}
	recs := make([]string, 10)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"id":"p%d"}`, i)
	}
	j, err := e.svc.Complete(ctx, acct, id, jobs.Outcome{Found: 10, Delivered: 10, Records: json.RawMessage("[" + strings.Join(recs, ",") + "]")})
	if err != nil {
		t.Fatal(err)
	}
	if j.TotalCost != 10 || j.Overage != 0 {
		t.Errorf("job cost %d (overage %d), want 10 from what it reserved", j.TotalCost, j.Overage)
	}
	if p := e.peoplePool(t, key); p["grants_available"] != 0.0 || p["available"] != 0.0 || p["reserved"] != 0.0 {
		t.Errorf("pool after the settle %v, want nothing available or reserved", p)
	}
	if gs := e.grants(t, key, "/v1/account/grants"); len(gs) != 1 || gs[0].Remaining != 0 || gs[0].Status != "expired" {
		t.Errorf("grant after the settle %+v", gs)
	}
	checkGrantAccount(t, e.ledger, acct)
}

// TestGrantCancelGivesBack cancels a job that reserved from the period
// allocation and two grants: each source gets back what was taken from it,
// in one release entry per source.
func TestGrantCancelGivesBack(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99")
	e.setAvailable(t, acct, "people", 3)
	low := e.addGrant(t, acct, "", map[string]any{"pool": "people", "amount": 4, "priority": -5})
	high := e.addGrant(t, acct, "", map[string]any{"pool": "people", "amount": 10, "priority": 5})

	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "", "num_records": 9, "on_insufficient": "reject"})
	if want, got := []string{"reserve 3 ", "reserve 4 " + low.ID, "reserve 2 " + high.ID}, entryLines(e.journal(t, key), "reserve"); !cmp.Equal(got, want) {
		t.Errorf("reserve entries %q, want %q: the allocation, then priority -5, then 5", got, want)
	}
	if p := e.peoplePool(t, key); p["grants_available"] != 8.0 || p["available"] != 8.0 {
		t.Errorf("pool after the reserve %v, want 8 left in the grants", p)
	}
	r := e.do(t, req{method: "DELETE", path: "/v1/jobs/" + s.Job["id"].(string), key: key})
	if r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	got := entryLines(e.journal(t, key), "release")
	if len(got) != 3 || !cmp.Equal(sortedCopy(got), sortedCopy([]string{"release 3 ", "release 4 " + low.ID, "release 2 " + high.ID})) {
		t.Errorf("release entries %q, want one per source: 3 to the allocation, 4 to %s, 2 to %s", got, low.ID, high.ID)
	}
	if p := e.peoplePool(t, key); p["grants_available"] != 14.0 || p["available"] != 17.0 || p["reserved"] != 0.0 {
		t.Errorf("pool after the cancel %v, want 3 + 14 available again", p)
	}
	for _, g := range e.grants(t, key, "/v1/account/grants") {
		if g.Remaining != g.Amount {
			t.Errorf("grant %s has %d of %d after the cancel", g.ID, g.Remaining, g.Amount)
		}
	}
	checkGrantAccount(t, e.ledger, acct)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

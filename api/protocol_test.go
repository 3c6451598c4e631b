package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestIdempotency replays the first response for the same key and body,
// charges nothing again, and answers 409 for another body.
func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "people-1k-99")
	body := `{"data_type":"people","num_records":10}`
	first := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	if first.status != http.StatusAccepted {
		t.Fatalf("%d %s", first.status, first.body)
	}
	again := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	if again.status != http.StatusAccepted || string(again.body) != string(first.body) {
		t.Fatalf("replay: %d %s, want %s", again.status, again.body, first.body)
	}
	if again.header.Get("X-Credits-Remaining") != "990" || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay headers %v", again.header)
	}
	if got := e.available(t, acct, "people"); got != 990 || len(e.queue.Enqueued()) != 1 {
		t.Fatalf("available %d and %d queued after a replay, want 990 and 1", got, len(e.queue.Enqueued()))
	}
	r := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: `{"data_type":"people","num_records":11}`, header: map[string]string{"Idempotency-Key": "k1"}})
	r.error(t, http.StatusConflict, "idempotency_conflict")
	r = e.do(t, req{method: "POST", path: "/v1/downloads", key: key, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	r.error(t, http.StatusConflict, "idempotency_conflict")

	// A 400 is not kept: the client may fix the body and use the key again.
	r = e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: `{"data_type":"people"}`, header: map[string]string{"Idempotency-Key": "k2"}})
	r.error(t, http.StatusBadRequest, "invalid_request")
	if r := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: map[string]string{"Idempotency-Key": "k2"}}); r.status != http.StatusAccepted {
		t.Fatalf("key after a 400: %d %s", r.status, r.body)
	}

	// Keys are scoped per account: another account's k1 is its own.
	_, other := e.account(t, "people-1k-99")
	if r := e.do(t, req{method: "POST", path: "/v1/searches", key: other, body: body, header: map[string]string{"Idempotency-Key": "k1"}}); r.status != http.StatusAccepted || r.json(t)["job"].(map[string]any)["id"] == first.json(t)["job"].(map[string]any)["id"] {
		t.Fatalf("another account's key: %d %s", r.status, r.body)
	}

	// Concurrent duplicates: one job, every answer the same job or a 409.
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			r := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: map[string]string{"Idempotency-Key": "k3"}})
			switch r.status {
			case http.StatusAccepted:
				ids <- r.json(t)["job"].(map[string]any)["id"].(string)
			case http.StatusConflict:
			default:
				t.Errorf("concurrent duplicate: %d %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent duplicates made %d jobs", len(seen))
	}
	if got := e.available(t, acct, "people"); got != 970 {
		t.Fatalf("available %d, want 970: three searches of 10", got)
	}
	e.checkInvariants(t, acct)
}

// TestHeaders checks X-Request-Id, the rate-limit headers and
// X-Credits-Remaining on responses of every kind.
func TestHeaders(t *testing.T) {
	e := newEnv(t, func(c *apiConfig) { c.RateLimit = 1000 })
	_, key := e.account(t, "people-1k-99")
	s := e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "num_records": 1})
	id := s.Job["id"].(string)
	for _, rq := range []req{
		{method: "GET", path: "/v1/account", key: key},
		{method: "GET", path: "/v1/account/ledger", key: key},
		{method: "GET", path: "/v1/jobs", key: key},
		{method: "GET", path: "/v1/jobs/" + id, key: key},
		{method: "GET", path: "/v1/jobs/job_none", key: key},
		{method: "POST", path: "/v1/searches", key: key, body: `{}`},
		{method: "POST", path: "/v1/searches", key: key, body: `{"data_type":"people","num_records":2}`},
		{method: "GET", path: "/v1/nothing", key: key},
	} {
		r := e.do(t, rq)
		name := fmt.Sprintf("%s %s (%d)", rq.method, rq.path, r.status)
		for _, h := range []string{"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Credits-Remaining"} {
			if r.header.Get(h) == "" {
				t.Errorf("%s: no %s", name, h)
			}
		}
		if r.header.Get("X-RateLimit-Limit") != "1000" {
			t.Errorf("%s: X-RateLimit-Limit %q", name, r.header.Get("X-RateLimit-Limit"))
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", name, r.header.Get("Content-Type"))
		}
	}
	// Admin responses have no credits; unauthenticated ones are limited by
	// address; a sane incoming request id is echoed, a bad one replaced.
	r := e.do(t, req{method: "GET", path: "/v1/jobs", key: e.admin, header: map[string]string{"X-Request-Id": "abc-123"}})
	if r.header.Get("X-Credits-Remaining") != "" || r.header.Get("X-Request-Id") != "abc-123" || r.header.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("admin headers %v", r.header)
	}
	r = e.do(t, req{method: "GET", path: "/v1/account", header: map[string]string{"X-Request-Id": "bad id!"}})
	if r.status != http.StatusUnauthorized || r.header.Get("X-RateLimit-Limit") == "" || r.header.Get("X-Request-Id") == "" || r.header.Get("X-Request-Id") == "bad id!" {
		t.Errorf("unauthenticated: %d %v", r.status, r.header)
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		r := e.do(t, req{method: "GET", path: p})
		if r.status != http.StatusOK || r.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: %d %v", p, r.status, r.header)
		}
	}
}

// TestRateLimit answers 429 with Retry-After past the burst, per key.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *apiConfig) { c.RateLimit = 3 })
	_, key := e.account(t, "people-1k-99")
	var limited reply
	// However slow a loaded machine makes each request, 50 in a row pass
	// 3 a second plus the burst of 3 within 16 s.
	for i := range 50 {
		r := e.do(t, req{method: "GET", path: "/v1/account", key: key})
		if r.status == http.StatusTooManyRequests {
			limited = r
			if i < 3 {
				t.Fatalf("limited after %d requests with a burst of 3", i)
			}
			break
		}
	}
	if limited.status == 0 {
		t.Fatal("50 requests in a row were never limited at 3/s")
	}
	limited.error(t, http.StatusTooManyRequests, "rate_limited")
	if ra, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q", limited.header.Get("Retry-After"))
	}
	if limited.header.Get("X-RateLimit-Remaining") != "0" || limited.header.Get("X-Credits-Remaining") == "" {
		t.Errorf("429 headers %v", limited.header)
	}
	// Another key has its own bucket.
	if r := e.do(t, req{method: "GET", path: "/v1/jobs", key: e.admin}); r.status == http.StatusTooManyRequests {
		t.Error("the admin key was limited by the user key's requests")
	}
}

// TestConcurrentSubmits sends 200 searches of 1 credit at once against a
// balance of 100 under reject: exactly 100 are accepted (I3).
func TestConcurrentSubmits(t *testing.T) {
	e := newEnv(t)
	acct, key := e.account(t, "local-2k-49")
	e.setAvailable(t, acct, "businesses", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range 200 {
		wg.Go(func() {
			r := e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: `{"data_type":"businesses","num_records":1}`})
			if r.status == http.StatusPaymentRequired {
				r.error(t, http.StatusPaymentRequired, "insufficient_credits")
			}
			mu.Lock()
			counts[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[http.StatusAccepted] != 100 || counts[http.StatusPaymentRequired] != 100 {
		t.Fatalf("answers %v, want 100 × 202 and 100 × 402", counts)
	}
	p, err := e.ledger.Pool(ctx, acct, "businesses")
	if err != nil {
		t.Fatal(err)
	}
	if p.Reserved != 100 || p.Available() != 0 || len(e.queue.Enqueued()) != 100 {
		t.Fatalf("reserved %d, available %d, queued %d", p.Reserved, p.Available(), len(e.queue.Enqueued()))
	}
	e.checkInvariants(t, acct)
}

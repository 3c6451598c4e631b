package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/creditrun/creditrun/client"
)

// writeUnavailable answers as the API does when Redis is unreachable.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": "unavailable", "message": "A backing service is unreachable.", "details": map[string]any{}})
}

// TestRetryAfterLostAnswer sends a download whose first answer is lost:
// the API creates the job, and the client gets a 503 instead of its 202.
// The client retries with the same Idempotency-Key and gets the first
// answer again: one job, reserved once.
func TestRetryAfterLostAnswer(t *testing.T) {
	s := newStack(t)
	account, c, sl := s.account(t, "people-1k-99")
	var keys []string
	var firstJob string
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/downloads" {
			next.ServeHTTP(w, r)
			return
		}
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) > 1 {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var sub client.Submitted
		if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &sub) != nil {
			t.Errorf("first submit: %d %s", rec.Code, rec.Body)
		}
		firstJob = sub.Job.ID
		writeUnavailable(w)
	})
	sub, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("Idempotency-Keys sent %q, want one key twice", keys)
	}
	if sub.Job.ID != firstJob || len(sl.all()) != 1 {
		t.Fatalf("job %s after waits %v, the first attempt made %s", sub.Job.ID, sl.all(), firstJob)
	}
	page, err := c.ListJobs(t.Context(), client.JobsQuery{})
	if err != nil || len(page.Jobs) != 1 || s.queue.count() != 1 {
		t.Fatalf("%d jobs listed, %d queued (%v), want 1", len(page.Jobs), s.queue.count(), err)
	}
	acct, err := c.GetAccount(t.Context())
	if err != nil || acct.Pools["people"].Reserved != 7 {
		t.Fatalf("reserved %+v, %v; want 7", acct.Pools["people"], err)
	}
	s.check(t, account)

	// A key of the caller's own makes a second call the same call.
	req := client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 2, IdempotencyKey: "order-42"}
	a, err := c.Download(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Download(t.Context(), req)
	if err != nil || a.Job.ID != b.Job.ID || keys[len(keys)-1] != "order-42" || s.queue.count() != 2 {
		t.Fatalf("two calls with one key: %s and %s (%v), %d queued", a.Job.ID, b.Job.ID, err, s.queue.count())
	}
	req.NumRecords = 3
	if _, err := c.Download(t.Context(), req); !client.IsCode(err, client.CodeIdempotencyConflict) {
		t.Fatalf("the key with another body: %v, want 409 idempotency_conflict", err)
	}
	s.check(t, account)
}

// TestRateLimitedRetryAfter retries a 429 after the Retry-After it carries,
// a bounded number of times, and gives up on one that asks too long.
func TestRateLimitedRetryAfter(t *testing.T) {
	s := newStack(t)
	_, c, sl := s.account(t, "people-1k-99")
	var attempts, limited int
	rateLimited := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		attempts++
		if attempts > limited {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"rate_limited","message":"Too many requests.","details":{}}`))
	}
	s.setFront(rateLimited)

	limited = 2
	if _, err := c.GetAccount(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{7 * time.Second, 7 * time.Second}; attempts != 3 || !slices.Equal(sl.all(), want) {
		t.Fatalf("%d attempts, waits %v; want 3 attempts and waits %v", attempts, sl.all(), want)
	}

	// Never through: the policy's four attempts, then the 429.
	attempts, limited, sl.got = 0, 100, nil
	_, err := c.GetAccount(t.Context())
	if !client.IsCode(err, client.CodeRateLimited) || attempts != client.DefaultRetryPolicy.MaxAttempts || len(sl.all()) != attempts-1 {
		t.Fatalf("%v after %d attempts and waits %v", err, attempts, sl.all())
	}

	// A Retry-After past MaxRetryAfter is not waited for.
	short, _ := s.client(t, "k", client.WithRetry(client.RetryPolicy{MaxRetryAfter: 5 * time.Second, SleepFunc: (&sleeps{}).sleep}))
	attempts, limited = 0, 100
	if _, err := short.GetAccount(t.Context()); !client.IsCode(err, client.CodeRateLimited) || attempts != 1 {
		t.Fatalf("%v after %d attempts, want the 429 after 1", err, attempts)
	}
}

// TestNoRetryOf4xx sends a bad request once: a 400 is the caller's to fix.
func TestNoRetryOf4xx(t *testing.T) {
	s := newStack(t)
	_, c, sl := s.account(t, "people-1k-99")
	var attempts int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		attempts++
		next.ServeHTTP(w, r)
	})
	_, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 0})
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.Status != http.StatusBadRequest || e.Field() != "num_records" || attempts != 1 || len(sl.all()) != 0 {
		t.Fatalf("%#v after %d attempts", err, attempts)
	}
	attempts = 0
	if _, err := c.GetJob(t.Context(), "job_nope"); !client.IsCode(err, client.CodeNotFound) || attempts != 1 {
		t.Fatalf("%v after %d attempts, want 404 after 1", err, attempts)
	}
}

// TestRetryUnavailableGet retries a GET answered 503 with the policy's
// backoff, each wait within its bounds.
func TestRetryUnavailableGet(t *testing.T) {
	s := newStack(t)
	_, c, sl := s.account(t, "people-1k-99")
	var attempts int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		attempts++
		if attempts <= 2 {
			writeUnavailable(w)
			return
		}
		next.ServeHTTP(w, r)
	})
	if _, err := c.GetAccount(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := client.DefaultRetryPolicy
	waits := sl.all()
	if attempts != 3 || len(waits) != 2 {
		t.Fatalf("%d attempts, waits %v", attempts, waits)
	}
	for i, d := range waits {
		most := p.BaseDelay << i
		if d < most/2 || d > most {
			t.Fatalf("wait %d is %s, want %s to %s", i+1, d, most/2, most)
		}
	}
}

// TestRetryAfterDroppedConnection sends a download whose connection drops
// after the API ran it: the client sends it again with the same key and
// gets the first job. A DELETE cut the same way is not sent again.
func TestRetryAfterDroppedConnection(t *testing.T) {
	s := newStack(t)
	account, _, _ := s.account(t, "people-1k-99")
	userKey, err := s.adminClient(t).CreateAccountKey(t.Context(), account, client.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh connection per request: net/http's Transport itself resends
	// a request with an Idempotency-Key that failed on a reused
	// connection, and this test is about the client's own retry.
	c, sl := s.client(t, userKey.APIKey, client.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	// The handler writes these and the test reads them: a dropped
	// connection orders nothing between the two, so mu does.
	var mu sync.Mutex
	var keys []string
	var firstJob string
	var deletes int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/downloads":
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			first := len(keys) == 1
			mu.Unlock()
			if !first {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var sub client.Submitted
			_ = json.Unmarshal(rec.Body.Bytes(), &sub)
			mu.Lock()
			firstJob = sub.Job.ID
			mu.Unlock()
			panic(http.ErrAbortHandler) // the answer is lost with the connection
		case r.Method == http.MethodDelete:
			mu.Lock()
			deletes++
			mu.Unlock()
			next.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler)
		}
		next.ServeHTTP(w, r)
	})
	sub, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 4})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	gotKeys, gotFirst := slices.Clone(keys), firstJob
	mu.Unlock()
	if gotFirst == "" || sub.Job.ID != gotFirst || len(gotKeys) < 2 || gotKeys[0] == "" || slices.ContainsFunc(gotKeys, func(k string) bool { return k != gotKeys[0] }) {
		t.Fatalf("job %s, the first attempt made %q; keys sent %q", sub.Job.ID, gotFirst, gotKeys)
	}
	if s.queue.count() != 1 || len(gotKeys) != 2 || len(sl.all()) != 1 {
		t.Fatalf("%d jobs queued after %d attempts and waits %v, want 1 job, 2 attempts, 1 wait", s.queue.count(), len(gotKeys), sl.all())
	}
	_, err = c.CancelJob(t.Context(), sub.Job.ID)
	mu.Lock()
	gotDeletes := deletes
	mu.Unlock()
	if _, ok := errors.AsType[*client.Error](err); err == nil || ok || gotDeletes != 1 {
		t.Fatalf("cut DELETE: %v after %d attempts, want a transport error after 1", err, gotDeletes)
	}
	s.check(t, account)
}

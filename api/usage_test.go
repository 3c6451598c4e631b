package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// TestUsageCounted: the usage a process counts in memory is all written:
// many requests at once on two API processes come out exact, each process
// sees its own counts at once, and the other's once it has written them.
func TestUsageCounted(t *testing.T) {
	t.Parallel()
	a, b := twins(t)
	_, key := a.account(t, "people-1k-99")
	const perProcess = 40
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} {
		for i := range perProcess {
			wg.Go(func() {
				path := "/v1/jobs"
				if i%4 == 0 {
					path = "/v1/account/ledger"
				}
				if r := e.do(t, req{method: http.MethodGet, path: path, key: key}); r.status != http.StatusOK {
					t.Errorf("GET %s: %d %s", path, r.status, r.body)
				}
			})
		}
	}
	wg.Wait()
	usage := func(e *env) float64 {
		t.Helper()
		r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: key})
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/account: %d %s", r.status, r.body)
		}
		return r.json(t)["usage"].(map[string]any)["api_requests"].(float64)
	}
	// b's own 40 and its read, and whatever of a's a has written so far.
	if n := usage(b); n < perProcess+1 || n > 2*perProcess+1 {
		t.Fatalf("b counts %v requests, want its own %d and its read at least", n, perProcess+1)
	}
	// a writes what it counted (as it does every moment, and when it stops).
	a.api.FlushUsage(context.Background())
	// a's 40, b's 40 and its two reads.
	if n := usage(b); n != 2*perProcess+2 {
		t.Fatalf("after a wrote its counts b counts %v requests, want %d", n, 2*perProcess+2)
	}
}

package api_test

import (
	"net/http"
	"testing"

	"github.com/creditrun/creditrun/api"
)

// TestKeyCache checks that keeping keys in process changes nothing a client
// sees: a key registered again is seen at once with its new role, and an
// unknown key is refused every time.
func TestKeyCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := api.NewKey()
	if err := e.api.RegisterKey(ctx, key, api.RoleFinance, ""); err != nil {
		t.Fatal(err)
	}
	// Twice, so the second answer comes from the cache.
	for range 2 {
		if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: key}); r.status != http.StatusForbidden {
			t.Fatalf("a finance key on /v1/account: %d %s", r.status, r.body)
		}
	}
	if _, err := e.svc.CreateAccount(ctx, "cached", "Cached", []string{"people-1k-99"}); err != nil {
		t.Fatal(err)
	}
	if err := e.api.RegisterKey(ctx, key, api.RoleUser, "cached"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: key}); r.status != http.StatusOK {
		t.Fatalf("the key registered again as a user key: %d %s", r.status, r.body)
	}
	for range 2 {
		if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: api.NewKey()}); r.status != http.StatusUnauthorized {
			t.Fatalf("an unknown key: %d %s", r.status, r.body)
		}
	}
}

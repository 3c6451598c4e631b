package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/creditrun/creditrun/api"
)

// twin returns a second API process on e's Redis and prefix, with its own
// key cache, as a cluster runs several behind a load balancer. The options
// change its config.
func (e *env) twin(t testing.TB, cfg api.Config, opts ...option) *env {
	t.Helper()
	for _, o := range opts {
		o(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	twin := *e
	twin.srv, twin.api, twin.admin = srv, a, cfg.AdminKey
	return &twin
}

// twins starts an API and a second process on the same Redis, both with the
// key cache on (its default TTL, seconds longer than any test step here).
func twins(t testing.TB) (*env, *env) {
	t.Helper()
	var cfg api.Config
	e := newEnv(t, func(c *apiConfig) { cfg = *c })
	if cfg.KeyCacheTTL < 0 {
		t.Fatal("the key cache is off")
	}
	return e, e.twin(t, cfg)
}

// TestKeyCacheRevocation checks that keeping keys in process changes nothing
// a client sees: a key revoked through one API process is refused by the
// other at once, though the other has the key in its cache; an unknown key
// is refused every time.
func TestKeyCacheRevocation(t *testing.T) {
	t.Parallel()
	a, b := twins(t)
	acct, _ := a.account(t, "people-1k-99")
	r := a.do(t, req{method: http.MethodPost, path: "/v1/accounts/" + acct + "/keys", key: a.admin, body: map[string]any{"role": "user"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create a key: %d %s", r.status, r.body)
	}
	created := r.json(t)
	key, id := created["api_key"].(string), created["id"].(string)
	staff := a.do(t, req{method: http.MethodPost, path: "/v1/keys", key: a.admin, body: map[string]any{"role": "finance"}}).json(t)
	// Twice on each process, so that the second answer comes from its
	// cache.
	for range 2 {
		for _, e := range []*env{a, b} {
			if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: key}); r.status != http.StatusOK {
				t.Fatalf("the new key: %d %s", r.status, r.body)
			}
			if r := e.do(t, req{method: http.MethodGet, path: "/v1/holds", key: staff["api_key"].(string)}); r.status != http.StatusOK {
				t.Fatalf("the finance key: %d %s", r.status, r.body)
			}
		}
	}
	if r := a.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + id, key: a.admin}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for _, e := range []*env{b, a} {
		e.do(t, req{method: http.MethodGet, path: "/v1/account", key: key}).error(t, http.StatusUnauthorized, "unauthorized")
	}
	// The other key, cached in both, goes on working.
	for _, e := range []*env{b, a} {
		if r := e.do(t, req{method: http.MethodGet, path: "/v1/holds", key: staff["api_key"].(string)}); r.status != http.StatusOK {
			t.Fatalf("the finance key after another key's revocation: %d %s", r.status, r.body)
		}
	}
	// Revoked through the second process this time.
	if r := b.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + staff["id"].(string), key: b.admin}); r.status != http.StatusOK {
		t.Fatalf("revoke the finance key: %d %s", r.status, r.body)
	}
	a.do(t, req{method: http.MethodGet, path: "/v1/holds", key: staff["api_key"].(string)}).error(t, http.StatusUnauthorized, "unauthorized")
	for range 2 {
		b.do(t, req{method: http.MethodGet, path: "/v1/account", key: api.NewKey()}).error(t, http.StatusUnauthorized, "unauthorized")
	}
}

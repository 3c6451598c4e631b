package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

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

// epochReads counts the reads of the key revocation epoch.
type epochReads struct {
	key string
	n   atomic.Int64
}

func (h *epochReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *epochReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) == 2 && strings.EqualFold(fmt.Sprint(args[0]), "get") && args[1] == h.key {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *epochReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestKeyCacheSubmit: a submit by a key in the key cache reads no
// revocation epoch: its reserve checks that the key is still its account's.
// Once the key is revoked through another process, a submit there is
// refused (401, nothing reserved, also for a body it would refuse anyway),
// and a key missing from its account's keys but not revoked is checked
// again and submits.
func TestKeyCacheSubmit(t *testing.T) {
	t.Parallel()
	a, b := twins(t)
	reads := &epochReads{key: a.prefix + ":keys:epoch"}
	a.client.AddHook(reads)
	acct, _ := a.account(t, "people-1k-99")
	newKey := func() (string, string) {
		r := a.do(t, req{method: http.MethodPost, path: "/v1/accounts/" + acct + "/keys", key: a.admin, body: map[string]any{"role": "user"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create a key: %d %s", r.status, r.body)
		}
		m := r.json(t)
		return m["api_key"].(string), m["id"].(string)
	}
	key, id := newKey()
	search := map[string]any{"data_type": "people", "query": "*", "num_records": 5}
	b.submit(t, key, "/v1/searches", search) // caches the key in b
	before := reads.n.Load()
	b.submit(t, key, "/v1/searches", search)
	if n := reads.n.Load() - before; n != 0 {
		t.Errorf("a submit by a cached key read the revocation epoch %d times, want 0", n)
	}
	if got := a.available(t, acct, "people"); got != 990 {
		t.Fatalf("available %d after two submits of 5, want 990", got)
	}

	if r := a.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + id, key: a.admin}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	// Each refusal says 401 and nothing of the account: no balance.
	for _, body := range []any{search, `{"data_type":"people"`, map[string]any{"data_type": "people", "query": "*", "num_records": 5000}} {
		r := b.do(t, req{method: http.MethodPost, path: "/v1/searches", key: key, body: body})
		r.error(t, http.StatusUnauthorized, "unauthorized")
		if h := r.header.Get("X-Credits-Remaining"); h != "" {
			t.Errorf("a revoked key's 401 tells the balance: X-Credits-Remaining %q", h)
		}
	}
	if got := a.available(t, acct, "people"); got != 990 {
		t.Fatalf("available %d after the revoked key's submits, want 990", got)
	}

	// A key its account's keys do not list (as a key stored before key ids
	// may be) is checked by its record, and submits.
	key2, id2 := newKey()
	b.submit(t, key2, "/v1/searches", search)
	if err := a.client.HDel(context.Background(), a.prefix+":{a:"+acct+"}:keys", id2).Err(); err != nil {
		t.Fatal(err)
	}
	b.submit(t, key2, "/v1/searches", search)
	if got := a.available(t, acct, "people"); got != 980 {
		t.Fatalf("available %d, want 980", got)
	}
	a.checkInvariants(t, acct)
}

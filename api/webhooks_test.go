package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/webhook"
)

func withWebhooks(t *testing.T, allowPrivate bool) option {
	return func(c *apiConfig) {
		store, err := webhook.NewStore(c.Redis, webhook.StoreOptions{Prefix: c.KeyPrefix})
		if err != nil {
			t.Fatal(err)
		}
		q := asynq.NewClient(asynq.RedisClientOpt{Addr: server.Addr()})
		t.Cleanup(func() { q.Close() })
		c.Webhooks = webhook.NewService(store, q)
		c.WebhookAllowPrivate = allowPrivate
	}
}

// TestWebhookURLRefused: without CREDITRUN_WEBHOOK_ALLOW_PRIVATE, a URL
// that is not https, or that names or resolves to a loopback, private or
// link-local address, is a 400 on url.
func TestWebhookURLRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withWebhooks(t, false))
	_, key := e.account(t, "people-1k-99")
	for _, u := range []string{"https://127.0.0.1:8443/hook", "https://localhost/hook", "http://example.com/hook",
		"https://192.168.1.10/hook", "https://169.254.169.254/latest/meta-data", "not a url"} {
		r := e.do(t, req{method: "POST", path: "/v1/webhooks", key: key, body: map[string]any{"url": u, "events": []string{"job.succeeded"}}})
		if d := r.error(t, http.StatusBadRequest, "invalid_request"); d["field"] != "url" {
			t.Fatalf("%s: details %v", u, d)
		}
	}
}

// TestWebhookEndpoints: registering, reading, listing and deleting
// endpoints, by a user key for its account and by finance for all; the
// secret is shown once; another account never sees an endpoint.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withWebhooks(t, true))
	acct, key := e.account(t, "people-1k-99")
	_, otherKey := e.account(t, "people-1k-99")
	fin := e.financeKey(t)

	for _, body := range []map[string]any{
		{"url": "http://127.0.0.1:9/hook"},
		{"url": "http://127.0.0.1:9/hook", "events": []string{}},
		{"url": "http://127.0.0.1:9/hook", "events": []string{"job.exploded"}},
	} {
		r := e.do(t, req{method: "POST", path: "/v1/webhooks", key: key, body: body})
		if d := r.error(t, http.StatusBadRequest, "invalid_request"); d["field"] != "events" {
			t.Fatalf("%v: details %v", body, d)
		}
	}
	r := e.do(t, req{method: "POST", path: "/v1/webhooks", key: key, body: map[string]any{
		"url": "http://127.0.0.1:9/hook", "events": []string{"job.succeeded", "hold.opened"}, "description": "mine"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	ep := r.json(t)
	id, _ := ep["id"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(ep["secret"].(string), "whsec_") || ep["status"] != "enabled" ||
		ep["account_id"] != acct || ep["url"] != "http://127.0.0.1:9/hook" || ep["created_at"] == nil {
		t.Fatalf("created %v", ep)
	}
	got := e.do(t, req{method: "GET", path: "/v1/webhooks/" + id, key: key})
	if got.status != http.StatusOK || got.json(t)["secret"] != nil || got.json(t)["id"] != id {
		t.Fatalf("get: %d %s", got.status, got.body)
	}
	e.do(t, req{method: "GET", path: "/v1/webhooks/" + id, key: otherKey}).error(t, http.StatusNotFound, "not_found")
	e.do(t, req{method: "DELETE", path: "/v1/webhooks/" + id, key: otherKey}).error(t, http.StatusNotFound, "not_found")

	r = e.do(t, req{method: "POST", path: "/v1/webhooks", key: fin, body: map[string]any{
		"url": "http://127.0.0.1:9/finance", "events": []string{"hold.opened"}}})
	if r.status != http.StatusCreated || r.json(t)["account_id"] != nil {
		t.Fatalf("finance create: %d %s", r.status, r.body)
	}
	count := func(k string) int {
		r := e.do(t, req{method: "GET", path: "/v1/webhooks", key: k})
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		return len(r.json(t)["webhooks"].([]any))
	}
	if a, o, f := count(key), count(otherKey), count(fin); a != 1 || o != 0 || f != 2 {
		t.Fatalf("lists: account %d, other %d, finance %d", a, o, f)
	}
	d := e.do(t, req{method: "GET", path: "/v1/webhooks/" + id + "/deliveries", key: key})
	if d.status != http.StatusOK || !strings.Contains(string(d.body), `"deliveries":[]`) {
		t.Fatalf("deliveries: %d %s", d.status, d.body)
	}
	e.do(t, req{method: "POST", path: "/v1/webhooks/" + id + "/deliveries/msg_nope/retry", key: key}).error(t, http.StatusNotFound, "not_found")
	if d := e.do(t, req{method: "GET", path: "/v1/webhooks/" + id + "/deliveries?cursor=x", key: key}).error(t, http.StatusBadRequest, "invalid_request"); d["field"] != "cursor" {
		t.Fatalf("bad cursor: details %v", d)
	}

	if r := e.do(t, req{method: "DELETE", path: "/v1/webhooks/" + id, key: key}); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	e.do(t, req{method: "GET", path: "/v1/webhooks/" + id, key: key}).error(t, http.StatusNotFound, "not_found")
	if n := count(key); n != 0 {
		t.Fatalf("after delete the account lists %d", n)
	}
}

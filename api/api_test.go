package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
)

var (
	_ api.Jobs    = (*jobs.Service)(nil)
	_ api.Ledger  = (*ledger.Redis)(nil)
	_ api.Storage = (*storage.Local)(nil)
)

var server *redisserver.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = redisserver.Start(redisserver.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "api tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

var ctx = context.Background()

// env is one API on a real redis-server, isolated by key prefix.
type env struct {
	srv    *httptest.Server
	api    *api.Server
	svc    *jobs.Service
	ledger *ledger.Redis
	client *redis.Client
	queue  *jobstest.Queue
	store  *storage.Local
	admin  string
	prefix string
}

var prefixes atomic.Int64

type apiConfig = api.Config

type option func(*apiConfig)

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	return newEnvWith(t, plan.Builtin(), opts...)
}

// newEnvWith is newEnv on the plans of catalog.
func newEnvWith(t testing.TB, catalog *plan.Catalog, opts ...option) *env {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("t%d_%d", time.Now().UnixNano(), prefixes.Add(1))
	l := ledger.New(c, ledger.Options{Prefix: prefix})
	js := jobstore.New(c, jobstore.Options{Prefix: prefix})
	q := &jobstest.Queue{}
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: q, Accounts: js, Catalog: catalog,
		Recorder: jobstore.Recorder{Ledger: l, Store: js}})

	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	local := storage.NewLocal(t.TempDir(), srv.URL, []byte("0123456789abcdef0123456789abcdef"), nil)
	cfg := api.Config{
		Jobs: svc, Ledger: l, Redis: c, Storage: local, Files: local.Handler(),
		RateLimit: api.RateLimitOff, KeyPrefix: prefix, AdminKey: api.NewKey(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler = a
	return &env{srv: srv, api: a, svc: svc, ledger: l, client: c, queue: q, store: local, admin: cfg.AdminKey, prefix: prefix}
}

// reply is a response, read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// errorCode checks that r is an error of API.md's shape with status and
// code, and returns its details.
func (r reply) error(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	if len(m) != 3 || m["error"] != code || m["message"] == "" {
		t.Fatalf("error body %s, want exactly error=%s, message, details", r.body, code)
	}
	d, ok := m["details"].(map[string]any)
	if !ok {
		t.Fatalf("details %v is not an object", m["details"])
	}
	return d
}

// req is one request to send.
type req struct {
	method, path, key string
	body              any // string or []byte are sent as is; anything else as JSON
	header            map[string]string
}

func (e *env) do(t testing.TB, rq req) reply {
	t.Helper()
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = bytes.NewBufferString(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	r, err := http.NewRequestWithContext(ctx, rq.method, e.srv.URL+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if rq.key != "" {
		r.Header.Set("Authorization", "Bearer "+rq.key)
	}
	for k, v := range rq.header {
		if v == "<unset>" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// account creates an account over the API and returns its id and user key.
func (e *env) account(t testing.TB, plans ...string) (string, string) {
	t.Helper()
	r := e.do(t, req{method: "POST", path: "/v1/accounts", key: e.admin, body: map[string]any{"name": "Acme", "plans": plans}})
	if r.status != http.StatusCreated {
		t.Fatalf("create account: %d %s", r.status, r.body)
	}
	var out struct {
		Account struct{ ID string }
		APIKey  string `json:"api_key"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Account.ID, out.APIKey
}

// setAvailable adjusts a pool so that exactly n credits are available.
func (e *env) setAvailable(t testing.TB, account, pool string, n int64) {
	t.Helper()
	p, err := e.ledger.Pool(ctx, account, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d := n - p.Available(); d != 0 {
		if _, err := e.ledger.Adjust(ctx, account, pool, d, "test", ""); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) available(t testing.TB, account, pool string) int64 {
	t.Helper()
	p, err := e.ledger.Pool(ctx, account, pool)
	if err != nil {
		t.Fatal(err)
	}
	return p.Available()
}

// checkInvariants asserts I1 and that the journal replays to the pools (I4).
func (e *env) checkInvariants(t testing.TB, account string) {
	t.Helper()
	pools, err := e.ledger.Pools(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.ledger.JournalAll(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := credit.Replay(entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		if err := p.Check(); err != nil {
			t.Error(err)
		}
		if !replayed[p.Name].Equal(p.Balance) {
			t.Errorf("I4: %s replays to %+v, pool is %+v", p.Name, replayed[p.Name], p.Balance)
		}
	}
}

// submitted decodes a 202.
type submitted struct {
	Job  map[string]any `json:"job"`
	Meta map[string]any `json:"meta"`
}

func (e *env) submit(t testing.TB, key, path string, body any) submitted {
	t.Helper()
	r := e.do(t, req{method: "POST", path: path, key: key, body: body})
	if r.status != http.StatusAccepted {
		t.Fatalf("submit %s: %d %s", path, r.status, r.body)
	}
	var s submitted
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/internal/metricstest"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
)

// brokenStorage is storage that cannot be reached.
type brokenStorage struct{}

func (brokenStorage) URL(context.Context, string, time.Duration) (string, time.Time, error) {
	return "", time.Time{}, errors.New("storage down")
}
func (brokenStorage) Check(context.Context) error { return errors.New("storage down") }

// TestUnavailable answers 503 unavailable when Redis or storage cannot be
// reached, from /readyz and from the API, while /healthz stays up.
func TestUnavailable(t *testing.T) {
	// A port where nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	led := ledger.New(c, ledger.Options{})
	js := jobstore.New(c, jobstore.Options{})
	svc := jobs.NewService(jobs.Config{Ledger: led, Store: js, Queue: &jobstest.Queue{}, Accounts: js, Catalog: plan.Builtin()})
	a, err := api.New(api.Config{Jobs: svc, Ledger: led, Redis: c, Storage: brokenStorage{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 503},
		{"GET", "/v1/account", 503},
		{"POST", "/v1/searches", 503},
	} {
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"data_type":"people","num_records":1}`))
		r.Header.Set("Authorization", "Bearer cr_live_00000000000000000000000000000000")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, w.Code, w.Body, tt.status)
		}
		if tt.status == 503 && !strings.Contains(w.Body.String(), `"error":"unavailable"`) {
			t.Errorf("%s %s: %s", tt.method, tt.path, w.Body)
		}
	}
}

// TestMetrics counts requests by route and status.
func TestMetrics(t *testing.T) {
	e := newEnv(t, func(c *apiConfig) { c.ServeMetrics = true })
	_, key := e.account(t, "people-1k-99")
	e.do(t, req{method: "GET", path: "/v1/jobs/job_x", key: key})
	r := e.do(t, req{method: "GET", path: "/metrics"})
	if r.status != http.StatusOK {
		t.Fatalf("%d", r.status)
	}
	for _, want := range []string{
		`creditrun_http_requests_total{method="GET",route="/v1/jobs/{id}",status="404"} 1`,
		`creditrun_http_requests_total{method="POST",route="/v1/accounts",status="201"} 1`,
		`creditrun_http_request_duration_seconds_bucket{method="GET",route="/v1/jobs/{id}",status="404"`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsSurviveAFailingCollector: on the registry the API serves, as
// `creditrun all` shares it with the scheduler's queue collector, a
// collector that fails leaves the rest of /metrics served with 200.
func TestMetricsSurviveAFailingCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metricstest.FailingCollector())
	e := newEnv(t, func(c *apiConfig) { c.Registry = reg; c.ServeMetrics = true })
	e.do(t, req{method: "GET", path: "/healthz"})
	r := e.do(t, req{method: "GET", path: "/metrics"})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "creditrun_http_requests_total{") {
		t.Fatalf("/metrics with a failing collector: %d\n%s", r.status, r.body)
	}
}

// TestReadyzCachedAndTerse: probes within the cache TTL cost Redis one
// PING, and a failing check is named without its reason.
func TestReadyzCachedAndTerse(t *testing.T) {
	var pings atomic.Int64
	e := newEnv(t, func(c *apiConfig) {
		c.ReadyCacheTTL = time.Hour
		c.Storage = brokenStorageAt{msg: "dial tcp 10.1.2.3:9000: connection refused"}
	})
	e.client.AddHook(pingCounter{&pings})
	for range 5 {
		r := e.do(t, req{method: "GET", path: "/readyz"})
		d := r.error(t, http.StatusServiceUnavailable, "unavailable")
		checks, _ := d["checks"].(map[string]any)
		if checks["storage"] != "unavailable" || checks["redis"] != "ok" {
			t.Fatalf("checks %v, want storage unavailable and redis ok", d["checks"])
		}
		if strings.Contains(string(r.body), "10.1.2.3") {
			t.Fatalf("/readyz tells why: %s", r.body)
		}
	}
	if n := pings.Load(); n != 1 {
		t.Fatalf("5 probes within the TTL sent %d PINGs, want 1", n)
	}
}

// brokenStorageAt is storage whose check fails with msg.
type brokenStorageAt struct {
	brokenStorage
	msg string
}

func (b brokenStorageAt) Check(context.Context) error { return errors.New(b.msg) }

// pingCounter counts the PINGs a client sends.
type pingCounter struct{ n *atomic.Int64 }

func (pingCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (pc pingCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "ping" {
			pc.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (pingCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestMetricsOffByDefault: the API's address is public, so /metrics is
// served there only when the config says so.
func TestMetricsOffByDefault(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, req{method: "GET", path: "/metrics"})
	r.error(t, http.StatusNotFound, "not_found")
	if strings.Contains(string(r.body), "creditrun_") {
		t.Fatalf("/metrics served with ServeMetrics off: %s", r.body)
	}
}

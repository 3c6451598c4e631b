package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/metricstest"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestMetricsAllRoles runs a search to success on the stack that `creditrun
// all` runs (the API, a worker and the scheduler in one process, on one
// registry) and reads /metrics on CREDITRUN_METRICS_ADDR: the worker counted
// the search, and the scheduler's process exports the queue. The API's own
// address, which is public, does not serve them.
func TestMetricsAllRoles(t *testing.T) {
	t.Parallel()
	metrics := freeAddr(t)
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true, scheduler: true}, metricsAddr: metrics})
	if resp, err := http.Get(s.base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the API's address: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	_, key := s.newAccount(t, "people-1k-99")
	j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "id:per_00000042", "num_records": 10})
	s.waitSucceeded(t, key, j.ID)

	want := []string{
		`creditrun_worker_tasks_total{kind="search",result="succeeded"} 1`,
		`creditrun_worker_records_total{kind="search"} 1`,
		`creditrun_queue_tasks{state="pending"} `,
		`creditrun_queue_processed_total `,
	}
	// The worker counts its task once the handler returns, a moment after
	// the job shows succeeded: poll, up to a deadline that is a safety net.
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := string(fetch(t, publicURL(metrics)+"/metrics"))
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, "\n"+w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(pollEvery)
	}
}

// TestMetricsSurviveAFailingCollector: a collector that fails leaves the
// rest of /metrics served, with 200.
func TestMetricsSurviveAFailingCollector(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	cfg := config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), WorkerConcurrency: 2, ResultTTL: time.Hour,
		LinkTTL: time.Minute, PartRecords: 1000}
	a, err := newApp(context.Background(), cfg, srv.URL(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.registry.MustRegister(metricstest.FailingCollector())
	ops := httptest.NewServer(a.opsHandler())
	t.Cleanup(ops.Close)
	body := string(fetch(t, ops.URL+"/metrics"))
	if !strings.Contains(body, "\ngo_goroutines ") {
		t.Fatalf("/metrics with a failing collector lacks the others:\n%s", body)
	}
}

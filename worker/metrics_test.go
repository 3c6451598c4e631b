package worker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/creditrun/creditrun/internal/metricstest"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// TestMetrics runs a search and a download to success, a job that fails, a
// job canceled before its delivery and a task that cannot run through one
// handler, and reads what its metrics counted.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.NewMetrics(reg); err == nil {
		t.Error("a second NewMetrics on one registry succeeded, want an error")
	}
	f := newFixture(t, nil, worker.HandlerConfig{Metrics: m, PartSize: 10, MaxAttempts: 2})

	search := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, Query: "id:per_00000007", NumRecords: 10})
	download := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 25, Format: jobs.CSV})
	for _, j := range []jobs.Job{search, download} {
		if err := f.process(t, t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	downloaded := f.job(t, download.ID)
	if downloaded.Status != jobs.Succeeded || len(downloaded.Results) != 3 {
		t.Fatalf("download: %s, %d files", downloaded.Status, len(downloaded.Results))
	}
	var bytes int64
	for _, rf := range downloaded.Results {
		bytes += rf.Bytes
	}

	// A search started twice without finishing: the third start fails it.
	failed := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, NumRecords: 5})
	for range 2 {
		if _, err := f.svc.Start(t.Context(), f.account, failed.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.process(t, t.Context(), failed); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("the capped job: %v, want SkipRetry", err)
	}
	if got := f.job(t, failed.ID); got.Status != jobs.Failed {
		t.Fatalf("the capped job is %s, want failed", got.Status)
	}

	// A download canceled while queued, delivered all the same.
	canceled := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 5})
	if _, err := f.svc.Cancel(t.Context(), f.account, canceled.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.process(t, t.Context(), canceled); err != nil {
		t.Fatalf("a canceled job's delivery: %v, want nil", err)
	}

	// A task whose payload cannot be read.
	if err := f.handler.ProcessTask(t.Context(), asynq.NewTask(worker.TypeRun, []byte("{"))); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a bad payload: %v, want SkipRetry", err)
	}

	families := gather(t, reg)
	for _, c := range []struct {
		kind, result string
		want         float64
	}{
		{"search", "succeeded", 1},
		{"download", "succeeded", 1},
		{"search", "failed", 1},
		{"download", "ended", 1},
		{"unknown", "failed", 1},
		{"download", "failed", 0},
		{"enrichment", "succeeded", 0},
	} {
		if v := metricstest.Value(families, "creditrun_worker_tasks_total", "kind", c.kind, "result", c.result); v != c.want {
			t.Errorf("tasks_total{kind=%s, result=%s} = %v, want %v", c.kind, c.result, v, c.want)
		}
		// A histogram's series start at its first observation.
		if v := metricstest.Value(families, "creditrun_worker_task_duration_seconds", "kind", c.kind, "result", c.result); max(v, 0) != c.want {
			t.Errorf("task_duration_seconds{kind=%s, result=%s} has %v samples, want %v", c.kind, c.result, v, c.want)
		}
	}
	if n := sum(families, "creditrun_worker_tasks_total"); n != 5 {
		t.Errorf("tasks_total adds up to %v, want the 5 deliveries", n)
	}
	for _, c := range []struct {
		name, kind string
		want       float64
	}{
		{"creditrun_worker_records_total", "search", 1},
		{"creditrun_worker_records_total", "download", 25},
		{"creditrun_worker_records_total", "enrichment", 0},
		{"creditrun_worker_result_bytes_total", "search", 0},
		{"creditrun_worker_result_bytes_total", "download", float64(bytes)},
	} {
		if v := metricstest.Value(families, c.name, "kind", c.kind); v != c.want {
			t.Errorf("%s{kind=%s} = %v, want %v", c.name, c.kind, v, c.want)
		}
	}
	if bytes == 0 {
		t.Error("the download's files have no bytes")
	}
	lint(t, families)
}

// TestMetricsRetryAndStopped counts a run that fails for asynq to retry and a
// run whose ctx ends, as at a shutdown.
func TestMetricsRetryAndStopped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	failing := newFixture(t, failingSource{openDataset(t, 10)}, worker.HandlerConfig{Metrics: m})
	j := failing.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, NumRecords: 5})
	if err := failing.process(t, t.Context(), j); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a failing search: %v, want an error to retry", err)
	}

	reg2 := prometheus.NewRegistry()
	m2, err := worker.NewMetrics(reg2)
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatedSource{Source: openDataset(t, people), after: 5, reached: make(chan struct{})}
	gated := newFixture(t, gate, worker.HandlerConfig{Metrics: m2})
	j = gated.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 50})
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chan error, 1)
	go func() { out <- gated.process(t, ctx, j) }()
	<-gate.reached
	cancel()
	if err := wait(t, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("a download whose ctx ended: %v, want context.Canceled", err)
	}

	families := gather(t, reg)
	if v := metricstest.Value(families, "creditrun_worker_tasks_total", "kind", "search", "result", "retry"); v != 1 {
		t.Errorf("tasks_total{search, retry} = %v, want 1", v)
	}
	if n := sum(families, "creditrun_worker_tasks_total"); n != 1 {
		t.Errorf("the failing fixture counted %v deliveries, want 1", n)
	}
	families = gather(t, reg2)
	if v := metricstest.Value(families, "creditrun_worker_tasks_total", "kind", "download", "result", "stopped"); v != 1 {
		t.Errorf("tasks_total{download, stopped} = %v, want 1", v)
	}
	if n := sum(families, "creditrun_worker_tasks_total"); n != 1 {
		t.Errorf("the gated fixture counted %v deliveries, want 1", n)
	}
	if v := metricstest.Value(families, "creditrun_worker_records_total", "kind", "download"); v != 0 {
		t.Errorf("a stopped download counted %v records, want 0", v)
	}
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// lint fails the test for each problem promlint finds, as
// testutil.CollectAndLint would report them. (testutil itself needs a module
// that go.mod does not list.)
func lint(t *testing.T, families []*dto.MetricFamily) {
	t.Helper()
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// sum adds up the values of every series of the named counter.
func sum(families []*dto.MetricFamily, name string) float64 {
	var n float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

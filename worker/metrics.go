package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditrun/creditrun/jobs"
)

// Metrics are a worker's Prometheus metrics, by job kind (search, download,
// enrichment, or unknown when the task could not be decoded or its job could
// not be read):
//   - creditrun_worker_tasks_total{kind, result}: deliveries of job:run
//     tasks, by what each came to (see the result values below)
//   - creditrun_worker_task_duration_seconds{kind, result}
//   - creditrun_worker_records_total{kind}: records delivered by succeeded
//     jobs (search, download), or items matched (enrichment)
//   - creditrun_worker_result_bytes_total{kind}: bytes of the result files
//     of succeeded jobs
//
// The result of a delivery is one of:
//   - succeeded: this delivery completed the job.
//   - failed: the handler failed the job (a job that cannot succeed, the
//     last retry, too many attempts), or the task cannot run at all (another
//     task type, a bad payload, a job that does not exist; kind unknown).
//   - retry: an error went back to asynq, which retries the task.
//   - ended: the job had ended (canceled, failed or succeeded elsewhere), as
//     on a redelivery; the task is acked.
//   - stopped: the task's ctx was canceled mid-run: a cancel, a shutdown or
//     a lost lease (a task's timeout is a failure: retry or failed).
//   - deferred: the job's account had as many jobs running as it may (see
//     AccountSlots); the task waits for a while and comes back, its job
//     still queued (kind unknown: the job is not read).
type Metrics struct {
	tasks    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	records  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
}

// The values of the result label.
const (
	resultSucceeded = "succeeded"
	resultFailed    = "failed"
	resultRetry     = "retry"
	resultEnded     = "ended"
	resultStopped   = "stopped"
	resultDeferred  = "deferred"
)

// kindUnknown is the kind label of a task whose job is not known.
const kindUnknown = "unknown"

var (
	kindLabels   = []string{string(jobs.Search), string(jobs.Download), string(jobs.Enrichment), kindUnknown}
	resultLabels = []string{resultSucceeded, resultFailed, resultRetry, resultEnded, resultStopped, resultDeferred}
)

// NewMetrics returns a worker's metrics, registered with r. Their series
// start at zero for every kind and result, so that rates count the first
// event. It returns an error when r refuses one (such as a second
// registration on one registry).
func NewMetrics(r prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditrun_worker_tasks_total",
			Help: "Deliveries of job:run tasks to this worker, by job kind and result (succeeded, failed, retry, ended, stopped, deferred).",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "creditrun_worker_task_duration_seconds",
			Help:    "Time a delivery of a job:run task took in the handler, by job kind and result.",
			Buckets: []float64{.005, .025, .1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"kind", "result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditrun_worker_records_total",
			Help: "Records delivered by jobs this worker completed (search, download), or items matched (enrichment), by job kind.",
		}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditrun_worker_result_bytes_total",
			Help: "Bytes of the result files of jobs this worker completed, by job kind.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.tasks, m.duration, m.records, m.bytes} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("worker metrics: %w", err)
		}
	}
	for _, kind := range kindLabels {
		for _, result := range resultLabels {
			m.tasks.WithLabelValues(kind, result)
		}
		if kind != kindUnknown {
			m.records.WithLabelValues(kind)
			m.bytes.WithLabelValues(kind)
		}
	}
	return m, nil
}

// attempt is what one delivery of a task came to.
type attempt struct {
	kind    string       // a value of kindLabels
	result  string       // a value of resultLabels
	outcome jobs.Outcome // a succeeded job's outcome
}

// is returns a with result.
func (a attempt) is(result string) attempt {
	a.result = result
	return a
}

// observe counts one delivery that took took; it does nothing on nil.
func (m *Metrics) observe(a attempt, took time.Duration) {
	if m == nil {
		return
	}
	m.tasks.WithLabelValues(a.kind, a.result).Inc()
	m.duration.WithLabelValues(a.kind, a.result).Observe(took.Seconds())
	if a.result != resultSucceeded {
		return
	}
	var n int64
	for _, f := range a.outcome.Results {
		n += f.Bytes
	}
	m.records.WithLabelValues(a.kind).Add(float64(max(a.outcome.Delivered, 0)))
	m.bytes.WithLabelValues(a.kind).Add(float64(max(n, 0)))
}

// kindLabel is the kind label of a job kind: unknown for a kind that is not
// one of jobs', so that a bad record adds no series.
func kindLabel(k jobs.Kind) string {
	switch k {
	case jobs.Search, jobs.Download, jobs.Enrichment:
		return string(k)
	}
	return kindUnknown
}

// kindOf is the kind label of the job of p, read for the metrics when Start
// found the job ended and so returned none; unknown when it cannot be read,
// and without a read when there are no metrics.
func (h *Handler) kindOf(ctx context.Context, p payload) string {
	if h.cfg.Metrics == nil {
		return kindUnknown
	}
	j, err := h.cfg.Service.Get(ctx, p.Account, p.Job)
	if err != nil {
		return kindUnknown
	}
	return kindLabel(j.Kind)
}

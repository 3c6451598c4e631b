package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's Prometheus metrics, by entry:
//   - creditrun_scheduler_runs_total{entry, result="ok"|"error"}
//   - creditrun_scheduler_done_total{entry}: what the runs did (pools
//     refreshed, reservations reaped, jobs whose files expired, …)
//   - creditrun_scheduler_run_duration_seconds{entry}
//   - creditrun_scheduler_last_success_timestamp_seconds{entry}: alert on
//     its age to learn that an entry, such as the refresh, has stopped
//     succeeding.
type metrics struct {
	runs     *prometheus.CounterVec
	done     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lastOK   *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditrun_scheduler_runs_total",
			Help: "Runs of a scheduler entry, by entry and result (ok or error).",
		}, []string{"entry", "result"}),
		done: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditrun_scheduler_done_total",
			Help: "What a scheduler entry's runs did: pools refreshed, reservations reaped, jobs expired, files re-tagged, pools reindexed.",
		}, []string{"entry"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "creditrun_scheduler_run_duration_seconds",
			Help:    "Time a run of a scheduler entry took.",
			Buckets: []float64{.001, .005, .025, .1, .5, 1, 5, 15, 60, 300},
		}, []string{"entry"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "creditrun_scheduler_last_success_timestamp_seconds",
			Help: "When a run of a scheduler entry last ended without an error (unix seconds).",
		}, []string{"entry"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.runs, m.done, m.duration, m.lastOK} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observe counts one run of entry.
func (m *metrics) observe(entry string, done int, err error, took time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		m.lastOK.WithLabelValues(entry).SetToCurrentTime()
	}
	m.runs.WithLabelValues(entry, result).Inc()
	m.done.WithLabelValues(entry).Add(float64(max(done, 0)))
	m.duration.WithLabelValues(entry).Observe(took.Seconds())
}

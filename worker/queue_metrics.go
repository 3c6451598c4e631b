package worker

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector exports the job queue as asynq's Inspector sees it, read
// afresh on each scrape.
type queueCollector struct {
	inspector *asynq.Inspector
	timeout   time.Duration
	// reading is held while a read of the queue is under way, so that
	// scrapes of a Redis that hangs do not pile reads up.
	reading sync.Mutex

	tasks     *prometheus.Desc
	latency   *prometheus.Desc
	processed *prometheus.Desc
	failed    *prometheus.Desc
}

var _ prometheus.Collector = (*queueCollector)(nil)

// NewQueueCollector returns a Prometheus collector of the job queue
// (QueueName), which reads it through inspector on each scrape:
//   - creditrun_queue_tasks{state}: tasks by state (pending, active,
//     scheduled, retry, archived, completed)
//   - creditrun_queue_latency_seconds: how long the oldest pending task has
//     waited
//   - creditrun_queue_processed_total, creditrun_queue_failed_total: asynq's
//     all-time counts of tasks processed (succeeded or failed) and failed
//
// A queue that does not exist yet (nothing was ever enqueued) reads as
// zeros. Another error, or a read that takes longer than
// DefaultQueueScrapeTimeout, reports the collector's metrics as invalid
// (the rest of a /metrics page can still be served). The queue is one
// for the cluster: register the collector in one kind of process only, so
// that sums over processes do not count it twice.
func NewQueueCollector(inspector *asynq.Inspector) prometheus.Collector {
	return &queueCollector{
		inspector: inspector,
		timeout:   DefaultQueueScrapeTimeout,
		tasks: prometheus.NewDesc("creditrun_queue_tasks",
			"Tasks in the job queue, by state (pending, active, scheduled, retry, archived, completed).",
			[]string{"state"}, nil),
		latency: prometheus.NewDesc("creditrun_queue_latency_seconds",
			"How long the oldest pending task of the job queue has waited; 0 when none is pending.",
			nil, nil),
		processed: prometheus.NewDesc("creditrun_queue_processed_total",
			"Tasks of the job queue that workers processed, succeeded or failed, since the queue began (asynq's count).",
			nil, nil),
		failed: prometheus.NewDesc("creditrun_queue_failed_total",
			"Tasks of the job queue whose processing failed, since the queue began (asynq's count).",
			nil, nil),
	}
}

// DefaultQueueScrapeTimeout is how long a scrape waits for the queue's
// reading: under Prometheus's default scrape timeout of 10 s, so that a
// Redis that hangs costs the page the queue's metrics, not the page.
const DefaultQueueScrapeTimeout = 3 * time.Second

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.latency
	ch <- c.processed
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	info, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.tasks, err)
		return
	}
	for _, s := range []struct {
		state string
		n     int
	}{
		{"pending", info.Pending},
		{"active", info.Active},
		{"scheduled", info.Scheduled},
		{"retry", info.Retry},
		{"archived", info.Archived},
		{"completed", info.Completed},
	} {
		ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(s.n), s.state)
	}
	ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds())
	ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal))
}

// read reads the queue within the timeout. The Inspector takes no context,
// so a read that runs late goes on in the background, holding reading: the
// scrapes after it fail at once until it ends.
func (c *queueCollector) read() (*asynq.QueueInfo, error) {
	if !c.reading.TryLock() {
		return nil, fmt.Errorf("queue %s: an earlier read is still waiting on Redis", QueueName)
	}
	type result struct {
		info *asynq.QueueInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := c.info()
		// Unlock before answering, so that a scrape right after this
		// answer finds the read over.
		c.reading.Unlock()
		done <- result{info, err}
	}()
	select {
	case r := <-done:
		return r.info, r.err
	case <-time.After(c.timeout):
		return nil, fmt.Errorf("queue %s: no answer from Redis within %s", QueueName, c.timeout)
	}
}

// info reads the queue; one that does not exist yet reads as empty. asynq
// v0.26.0's GetQueueInfo does not wrap ErrQueueNotFound for a missing queue,
// so on an error the queue's existence is checked apart.
func (c *queueCollector) info() (*asynq.QueueInfo, error) {
	info, err := c.inspector.GetQueueInfo(QueueName)
	if err == nil {
		return info, nil
	}
	if !errors.Is(err, asynq.ErrQueueNotFound) {
		queues, qerr := c.inspector.Queues()
		if qerr != nil || slices.Contains(queues, QueueName) {
			return nil, fmt.Errorf("queue %s: %w", QueueName, err)
		}
	}
	return &asynq.QueueInfo{Queue: QueueName}, nil
}

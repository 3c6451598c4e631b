package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/metricstest"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/worker"
)

var queueStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed"}

// queueValues gathers reg and returns each queue metric: the tasks by state,
// and latency, processed and failed.
func queueValues(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families := gather(t, reg)
	got := map[string]float64{}
	for _, s := range queueStates {
		got[s] = metricstest.Value(families, "creditrun_queue_tasks", "state", s)
	}
	got["latency"] = metricstest.Value(families, "creditrun_queue_latency_seconds")
	got["processed"] = metricstest.Value(families, "creditrun_queue_processed_total")
	got["failed"] = metricstest.Value(families, "creditrun_queue_failed_total")
	return got
}

// checkQueue fails the test for each metric of want that got differs on.
func checkQueue(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s = %v, want %v (all: %v)", what, k, got[k], w, got)
		}
	}
}

// TestQueueCollector reads the job queue on a real redis-server: before it
// exists, with tasks pending and scheduled, and once a worker has processed
// the pending ones, one of them failing.
func TestQueueCollector(t *testing.T) {
	srv := redisserver.T(t)
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	client := asynq.NewClient(opt)
	inspector := asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); inspector.Close() })

	// A pedantic registry checks that Collect sends only what Describe
	// announced, as testutil.CollectAndLint does.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(worker.NewQueueCollector(inspector))

	// Nothing was ever enqueued: the queue does not exist, and reads as zeros.
	zeros := map[string]float64{"latency": 0, "processed": 0, "failed": 0}
	for _, s := range queueStates {
		zeros[s] = 0
	}
	checkQueue(t, "no queue", queueValues(t, reg), zeros)

	q := worker.NewQueue(client, inspector)
	for i := range 3 {
		if err := q.Enqueue(t.Context(), jobs.Job{Account: "acme", ID: fmt.Sprintf("job_%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		id := fmt.Sprintf("job_later_%d", i)
		if _, err := client.EnqueueContext(t.Context(), worker.NewRunTask("acme", id),
			asynq.TaskID(id), asynq.Queue(worker.QueueName), asynq.ProcessIn(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	got := queueValues(t, reg)
	checkQueue(t, "enqueued", got, map[string]float64{
		"pending": 3, "scheduled": 2, "active": 0, "retry": 0, "archived": 0, "completed": 0, "processed": 0, "failed": 0,
	})
	if got["latency"] <= 0 {
		t.Errorf("latency %v with tasks pending, want more than 0", got["latency"])
	}

	// A worker processes the pending tasks: job_1 fails for good (archived),
	// the others succeed.
	w := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: map[string]int{worker.QueueName: 1}, LogLevel: asynq.FatalLevel})
	if err := w.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		if id, _ := asynq.GetTaskID(ctx); id == "job_1" {
			return fmt.Errorf("a job that cannot run: %w", asynq.SkipRetry)
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	deadline := time.Now().Add(time.Minute) // a safety net, not a measure
	for {
		info, err := inspector.GetQueueInfo(worker.QueueName)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pending == 0 && info.Active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not process the pending tasks: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkQueue(t, "processed", queueValues(t, reg), map[string]float64{
		"pending": 0, "active": 0, "scheduled": 2, "retry": 0, "archived": 1, "completed": 0,
		"latency": 0, "processed": 3, "failed": 1,
	})
	lint(t, gather(t, reg))
}

// TestQueueCollectorError shows a queue that cannot be read as a failed
// scrape, with its error, not as zeros: asynq's set of queues is made a
// string, so every read of it fails.
func TestQueueCollectorError(t *testing.T) {
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	if err := c.Set(t.Context(), "asynq:queues", "not a set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	t.Cleanup(func() { inspector.Close() })
	reg := prometheus.NewRegistry()
	reg.MustRegister(worker.NewQueueCollector(inspector))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("a scrape of a queue that cannot be read: %v, want its WRONGTYPE error", err)
	}
}

// TestQueueCollectorRedisHangs pauses redis-server's clients (CLIENT PAUSE):
// a scrape gives up on the queue within its timeout, the next one fails at
// once while the first read still waits, and once Redis answers again the
// queue reads as before.
func TestQueueCollectorRedisHangs(t *testing.T) {
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	client := asynq.NewClient(opt)
	inspector := asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); inspector.Close() })
	q := worker.NewQueue(client, inspector)
	if err := q.Enqueue(t.Context(), jobs.Job{ID: "job_hang", Account: "acme"}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(worker.NewQueueCollector(inspector))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}

	if err := c.Do(t.Context(), "CLIENT", "PAUSE", "8000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "no answer from Redis") {
		t.Fatalf("a scrape while Redis hangs: %v, want it to give up", err)
	}
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "still waiting") {
		t.Fatalf("a second scrape while Redis hangs: %v, want it to fail at once", err)
	}
	deadline := time.Now().Add(time.Minute) // a safety net, not a measure
	for {
		families, err := reg.Gather()
		if err == nil {
			if got := metricstest.Value(families, "creditrun_queue_tasks", "state", "pending"); got != 1 {
				t.Fatalf("pending after the pause: %v, want 1", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue never read again: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

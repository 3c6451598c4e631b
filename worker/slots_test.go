package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// clock is a fake clock for the slots' leases.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSlots(t *testing.T, limit int, now func() time.Time) (*worker.AccountSlots, *redis.Client) {
	t.Helper()
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	s, err := worker.NewAccountSlots(c, worker.SlotsConfig{Limit: limit, NowFunc: now, RetryDelay: time.Second, MaxRetryDelay: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestAccountSlots(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, c := newSlots(t, 2, clk.Now)
	ctx := t.Context()
	take := func(account, job string) (*worker.Slot, error) {
		t.Helper()
		return s.Acquire(ctx, account, job)
	}

	a1, err := take("acme", "job_1")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := take("acme", "job_2")
	if err != nil {
		t.Fatal(err)
	}
	// Taking the slot a job holds renews it: a retried call changes nothing.
	again, err := take("acme", "job_2")
	if err != nil {
		t.Fatalf("a job that holds a slot takes it again: %v", err)
	}
	again.Release() // gives job_2's slot back
	a2.Release()
	if a2, err = take("acme", "job_2"); err != nil {
		t.Fatal(err)
	}

	// A third job of the account waits; another account's does not.
	_, err = take("acme", "job_3")
	be, ok := errors.AsType[*worker.BusyError](err)
	if !ok || !errors.Is(err, worker.ErrAccountBusy) || be.Limit != 2 || be.Waiting != 1 || be.Delay < 500*time.Millisecond || be.Delay > 1500*time.Millisecond {
		t.Fatalf("a third job of acme: %v (%+v), want a BusyError, 1 waiting, about 1 s", err, be)
	}
	b1, err := take("globex", "job_9")
	if err != nil {
		t.Fatalf("another account's job: %v", err)
	}
	b1.Release()

	// The wait grows with the account's waiting jobs, up to the most.
	for i := range 6 {
		_, err = take("acme", "job_w"+string(rune('a'+i)))
	}
	be, _ = errors.AsType[*worker.BusyError](err)
	if be == nil || be.Waiting != 7 || be.Delay < 2*time.Second {
		t.Fatalf("with 7 waiting: %+v, want a wait of about 4 s", be)
	}

	// A released slot is free at once.
	a1.Release()
	a1.Release() // harmless
	a3, err := take("acme", "job_3")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}

	// The slot of a worker that died (no release, no renewal) is free once
	// its lease ends.
	clk.add(worker.SlotLease + time.Millisecond)
	a4, err := take("acme", "job_4")
	if err != nil {
		t.Fatalf("after the leases ended: %v", err)
	}
	a2.Release()
	a3.Release()
	a4.Release()
	if n, err := c.ZCard(ctx, "cr:{a:acme}:slots:running").Result(); err != nil || n != 0 {
		t.Fatalf("slots held after every release: %d, %v", n, err)
	}

	if _, err := worker.NewAccountSlots(c, worker.SlotsConfig{}); err == nil {
		t.Fatal("a limit of 0 was accepted")
	}
}

// slowSource holds every search of query slow until open is closed, and
// tells started each time one begins.
type slowSource struct {
	source.Source
	slow    string
	started chan string
	open    chan struct{}
}

func (s *slowSource) Search(ctx context.Context, dt, q string, limit int) (source.Results, error) {
	if q == s.slow {
		s.started <- q
		select {
		case <-s.open:
		case <-ctx.Done():
			return source.Results{}, ctx.Err()
		}
	}
	return s.Source.Search(ctx, dt, q, limit)
}

// TestFairShare runs a real worker of four tasks at once, with a cap of one
// job per account: account A submits five slow jobs, then account B one.
// B's job runs and ends while A's first job still runs and A's four others
// are still queued, where without the cap A's jobs would take every task of
// the worker and B's would wait behind them.
func TestFairShare(t *testing.T) {
	slow := &slowSource{Source: openDataset(t, 50), slow: "name:*", started: make(chan string, 16), open: make(chan struct{})}
	f := newFixture(t, slow, worker.HandlerConfig{})
	b, err := f.svc.CreateAccount(t.Context(), "globex", "Globex", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: f.redis.Addr()})
	t.Cleanup(func() { c.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	slots, err := worker.NewAccountSlots(c, worker.SlotsConfig{Limit: 1, RetryDelay: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h := worker.NewHandler(worker.HandlerConfig{Service: f.svc, Source: slow, Storage: f.files, Slots: slots, Logger: quiet})

	var aJobs []jobs.Job
	for range 5 {
		aJobs = append(aJobs, f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: slow.slow, NumRecords: 10}))
	}
	bJob, err := f.svc.Submit(t.Context(), b.ID, jobs.Spec{Kind: jobs.Search, DataType: source.People, Query: "id:per_00000007", NumRecords: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv := worker.NewServer(asynq.RedisClientOpt{Addr: f.redis.Addr()}, 4, h)
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	// B's job ends while A's first job still waits on the source.
	doneB := waitStatus(t, f, b.ID, bJob.ID)
	if doneB.Status != jobs.Succeeded || doneB.TotalCost != 1 {
		t.Fatalf("B's job: %s %q, total_cost %d", doneB.Status, doneB.Error, doneB.TotalCost)
	}
	count := map[jobs.Status]int{}
	for _, j := range aJobs {
		count[f.job(t, j.ID).Status]++
	}
	if count[jobs.Running] != 1 || count[jobs.Queued] != 4 {
		t.Fatalf("A's jobs when B's ended: %v, want 1 running and 4 queued", count)
	}
	if len(slow.started) != 1 {
		t.Fatalf("%d of A's searches started, want 1", len(slow.started))
	}

	// Once the source answers, A's jobs run one after the other, each
	// delivery turned away before it starts its job.
	close(slow.open)
	for _, j := range aJobs {
		done := waitStatus(t, f, f.account, j.ID)
		if done.Status != jobs.Succeeded || done.Attempts != 1 {
			t.Fatalf("A's job %s: %s %q, %d attempts", j.ID, done.Status, done.Error, done.Attempts)
		}
		f.checkLedger(t, done)
	}
	ledgertest.CheckAccount(t, f.ledger, b.ID)
	if n, err := c.ZCard(t.Context(), "cr:{a:"+f.account+"}:slots:running").Result(); err != nil || n != 0 {
		t.Fatalf("A's slots held after its jobs: %d, %v", n, err)
	}
}

// waitStatus waits for a job to end and returns it; the wait is a safety
// net, not a measure.
func waitStatus(t *testing.T, f *fixture, account, id string) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := f.svc.Get(t.Context(), account, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after a minute", id, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

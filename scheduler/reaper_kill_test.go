package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// The environment of the test binary re-executed as a child worker process:
// TestMain runs runChildWorker instead of the tests when childRedisEnv is set.
const (
	childRedisEnv = "CREDITRUN_SCHEDULER_TEST_CHILD_REDIS" // the redis-server's address
	childClockEnv = "CREDITRUN_SCHEDULER_TEST_CHILD_CLOCK" // the fake clock's time, RFC 3339
	childDirEnv   = "CREDITRUN_SCHEDULER_TEST_CHILD_DIR"   // the storage directory
)

// lastAttemptKey is set by the child worker's source, to the task id and
// its retry count over its max retry, when it blocks in the last attempt.
const lastAttemptKey = "scheduler-test:last-attempt"

// A worker SIGKILLed on the last attempt of a task (asynq's retries used up
// by genuine failures) leaves the task active with an expired lease; the
// recoverer of a surviving worker archives it, and no handler sees it again.
// The reaper voids the reservation and fails the job.
func TestReapKilledOnLastAttempt(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()
	rdb := redis.NewClient(&redis.Options{Addr: e.srv.Addr()})
	t.Cleanup(func() { rdb.Close() })

	e.queue.MaxRetry = 1
	j := e.submit()

	// The real worker, in a process of its own: its first delivery fails and
	// is retried, its second (the last) blocks in the search.
	child := startChildWorker(t, e)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v, err := rdb.Get(ctx, lastAttemptKey).Result()
		if err == nil {
			if want := j.ID + " 1/1"; v != want {
				t.Fatalf("the child blocked in %q, want %q", v, want)
			}
			break
		}
		if !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		select {
		case <-child.exited:
			t.Fatalf("the child worker exited (%v) before its last attempt; its output:\n%s", child.err, child.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child worker did not reach its last attempt in 2 minutes; its output:\n%s", child.output())
		}
	}
	if got := e.job(j.ID); got.Status != jobs.Running || got.Attempts != 2 {
		t.Fatalf("job in its last attempt: %s after %d attempts, want running after 2", got.Status, got.Attempts)
	}
	info, err := e.inspector.GetTaskInfo(worker.QueueName, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateActive || info.Retried != 1 || info.MaxRetry != 1 {
		t.Fatalf("task in its last attempt: %s, retried %d of %d; want active, 1 of 1", info.State, info.Retried, info.MaxRetry)
	}
	child.kill(t)

	// A surviving worker, whose recoverer archives the task; it must never
	// run it.
	_, _, svc, _ := e.parts()
	h := worker.NewHandler(worker.HandlerConfig{
		Service: svc,
		Source:  neverSource{t},
		Storage: storage.NewLocal(t.TempDir(), "http://127.0.0.1", []byte("scheduler-test-secret"), e.clock.Now),
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	srv := worker.NewServer(asynq.RedisClientOpt{Addr: e.srv.Addr()}, 2, h)
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	deadline = time.Now().Add(4 * time.Minute)
	for {
		info, err = e.inspector.GetTaskInfo(worker.QueueName, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if info.State == asynq.TaskStateArchived {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s 4 minutes after its worker was killed, not archived", j.ID, info.State)
		}
		time.Sleep(time.Second)
	}
	if info.LastErr != asynq.ErrLeaseExpired.Error() {
		t.Errorf("archived task's last error %q, want %q", info.LastErr, asynq.ErrLeaseExpired)
	}
	if got := e.job(j.ID); got.Status != jobs.Running || got.Attempts != 2 || e.state(j.ID) != credit.Reserved {
		t.Fatalf("job with its task archived: %s after %d attempts, reservation %s; want running after 2, reserved", got.Status, got.Attempts, e.state(j.ID))
	}

	e.clock.Advance(10 * time.Minute) // past the reaper's grace
	r := e.reaper(scheduler.ReaperConfig{})
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1, nil", n, err)
	}
	got := e.job(j.ID)
	if want := "The job could not run: its task was archived after 2 attempts. Nothing was charged."; got.Status != jobs.Failed || got.Error != want {
		t.Errorf("reaped job: %s %q, want %s %q", got.Status, got.Error, jobs.Failed, want)
	}
	if got.CreditsReleased != j.CreditsReserved {
		t.Errorf("reaped job released %d, want %d", got.CreditsReleased, j.CreditsReserved)
	}
	if s := e.state(j.ID); s != credit.Voided {
		t.Errorf("reservation %s, want %s", s, credit.Voided)
	}
	if n := e.releases(j.ID); n != 1 {
		t.Errorf("%d release entries, want 1", n)
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)

	// Again: nothing to reap, and nothing changes.
	before := e.snapshot(j.ID)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("second Reap = %d, %v; want 0, nil", n, err)
	}
	if diff := cmp.Diff(before, e.snapshot(j.ID)); diff != "" {
		t.Errorf("second Reap changed the account (-before +after):\n%s", diff)
	}
}

// accountState is what a Reap may change of an account and one of its jobs.
type accountState struct {
	Job         jobs.Job
	Reservation credit.Reservation
	Pools       []credit.Pool
	Journal     []credit.Entry
}

func (e *reapEnv) snapshot(id string) accountState {
	e.t.Helper()
	ctx := e.t.Context()
	res, err := e.ledger.Reservation(ctx, e.account, id)
	if err != nil {
		e.t.Fatal(err)
	}
	pools, err := e.ledger.Pools(ctx, e.account)
	if err != nil {
		e.t.Fatal(err)
	}
	journal, err := e.ledger.JournalAll(ctx, e.account)
	if err != nil {
		e.t.Fatal(err)
	}
	return accountState{Job: e.job(id), Reservation: res, Pools: pools, Journal: journal}
}

// childWorker is the test binary re-executed as a worker process.
type childWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // held open: the child exits when it closes
	out    *bytes.Buffer  // stdout and stderr; read only once exited is closed
	exited chan struct{}
	err    error // Wait's, once exited is closed

	shown bool // whether its output was put in a failure message
}

// startChildWorker runs the child worker on e's redis-server and fake time.
// It is killed, and waited for, when the test ends.
func startChildWorker(t *testing.T, e *reapEnv) *childWorker {
	t.Helper()
	c := &childWorker{out: new(bytes.Buffer), exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(),
		childRedisEnv+"="+e.srv.Addr(),
		childClockEnv+"="+e.clock.Now().Format(time.RFC3339Nano),
		childDirEnv+"="+t.TempDir())
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() && !c.shown {
			t.Logf("child worker (%v) output:\n%s", c.err, c.out)
		}
	})
	return c
}

// stop kills the child, if it still runs, and waits for it.
func (c *childWorker) stop() {
	_ = c.cmd.Process.Signal(os.Kill) // SIGKILL; an error means it has exited
	<-c.exited
}

// kill SIGKILLs the child and waits for it; it fails the test if the child
// had exited already.
func (c *childWorker) kill(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
		t.Fatalf("the child worker exited (%v) before it was killed; its output:\n%s", c.err, c.output())
	default:
	}
	c.stop()
}

// output stops the child and returns what it wrote.
func (c *childWorker) output() string {
	c.stop()
	c.shown = true
	return c.out.String()
}

// runChildWorker is the child worker process: the real worker, with its own
// clients, on a source whose last attempt blocks. It runs until it is
// killed, or until its stdin ends (the test binary that started it died).
func runChildWorker() int {
	addr := os.Getenv(childRedisEnv)
	now, err := time.Parse(time.RFC3339Nano, os.Getenv(childClockEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker: clock:", err)
		return 2
	}
	clock := ledgertest.NewClock(now)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	store := jobstore.New(c, jobstore.Options{NowFunc: clock.Now})
	l := ledger.New(c, ledger.Options{NowFunc: clock.Now})
	h := worker.NewHandler(worker.HandlerConfig{
		Service: jobs.NewService(jobs.Config{Ledger: l, Store: store, Accounts: store, Catalog: plan.Builtin(), NowFunc: clock.Now}),
		Source:  lastAttemptSource{redis: c},
		Storage: storage.NewLocal(os.Getenv(childDirEnv), "http://127.0.0.1", []byte("scheduler-test-secret"), clock.Now),
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	srv := worker.NewServer(asynq.RedisClientOpt{Addr: addr}, 1, h)
	if err := srv.Start(h); err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		return 2
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Fprintln(os.Stderr, "child worker: stdin closed")
	return 1
}

// lastAttemptSource fails every delivery of a task but the last with an
// error worth a retry. In the last it sets lastAttemptKey and blocks until
// its ctx is done, which, for a worker that is killed, is never.
type lastAttemptSource struct{ redis *redis.Client }

// DataTypes are the sample's.
func (lastAttemptSource) DataTypes() []string { return source.DataTypes() }

// QueryFields does not say: any field is accepted.
func (lastAttemptSource) QueryFields(string) ([]string, error) { return nil, nil }

func (s lastAttemptSource) Search(ctx context.Context, _, _ string, _ int) (source.Results, error) {
	n, ok1 := asynq.GetRetryCount(ctx)
	limit, ok2 := asynq.GetMaxRetry(ctx)
	id, ok3 := asynq.GetTaskID(ctx)
	if !ok1 || !ok2 || !ok3 {
		return source.Results{}, errors.New("search outside an asynq task")
	}
	if n < limit {
		return source.Results{}, errors.New("the source is unavailable")
	}
	if err := s.redis.Set(ctx, lastAttemptKey, fmt.Sprintf("%s %d/%d", id, n, limit), 0).Err(); err != nil {
		return source.Results{}, fmt.Errorf("mark the last attempt: %w", err)
	}
	<-ctx.Done()
	return source.Results{}, ctx.Err()
}

func (lastAttemptSource) Match(context.Context, string, []string, []source.Item) (source.MatchStream, error) {
	return nil, errors.New("the child worker only searches")
}

// neverSource is the source of a worker that must run no job: each call
// fails the test.
type neverSource struct{ t *testing.T }

func (s neverSource) Search(_ context.Context, dataType, query string, _ int) (source.Results, error) {
	s.t.Errorf("a job ran again: Search(%s, %q)", dataType, query)
	return source.Results{}, errors.New("no job may run here")
}

// DataTypes are the sample's: a job of any of them reaches Search or Match.
func (neverSource) DataTypes() []string { return source.DataTypes() }

// QueryFields does not say: any field is accepted.
func (neverSource) QueryFields(string) ([]string, error) { return nil, nil }

func (s neverSource) Match(_ context.Context, dataType string, _ []string, _ []source.Item) (source.MatchStream, error) {
	s.t.Errorf("a job ran again: Match(%s)", dataType)
	return nil, errors.New("no job may run here")
}

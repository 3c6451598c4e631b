package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/client"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// redisSrv is the one redis-server of the package's tests; each stack has
// its own key prefix on it.
var redisSrv *redisserver.Server

// datasetDir holds a small generated dataset, shared by every stack.
var datasetDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if redisSrv, err = redisserver.Start(redisserver.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		return 1
	}
	defer redisSrv.Close()
	dir, err := os.MkdirTemp("", "client-dataset-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	datasetDir = filepath.Join(dir, "data")
	if _, err := dataset.Generate(context.Background(), dataset.GenerateConfig{Dir: datasetDir, People: 60, Properties: 10, Businesses: 10, Products: 10, Seed: 1}); err != nil {
		fmt.Fprintln(os.Stderr, "client tests: generate dataset:", err)
		return 1
	}
	return m.Run()
}

// stack is the API on a real redis-server (ledger, job store, jobs
// service, local storage), as package api's tests build it, with an
// in-process worker that runs queued jobs once started, and a front
// handler that tests set to fake faults in front of the API.
type stack struct {
	url      string
	ledger   *ledger.Redis
	svc      *jobs.Service
	queue    *workQueue
	adminKey string

	mu    sync.Mutex
	front func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

var prefixes atomic.Int64

func newStack(t *testing.T) *stack {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: redisSrv.Addr()})
	t.Cleanup(func() { rc.Close() })
	prefix := fmt.Sprintf("c%d_%d", time.Now().UnixNano(), prefixes.Add(1))
	l := ledger.New(rc, ledger.Options{Prefix: prefix})
	js := jobstore.New(rc, jobstore.Options{Prefix: prefix})
	q := &workQueue{}
	s := &stack{ledger: l, queue: q}

	var apiHandler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		front := s.front
		s.mu.Unlock()
		if front != nil {
			front(w, r, apiHandler)
			return
		}
		apiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	local := storage.NewLocal(t.TempDir(), srv.URL, []byte("0123456789abcdef0123456789abcdef"), nil)
	d, err := dataset.Open(t.Context(), datasetDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	// The service has the dataset, as an API process given one has: it
	// answers quotes.
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: q, Accounts: js, Catalog: plan.Builtin(), Source: d,
		Objects: local, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }})
	s.svc = svc
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := api.New(api.Config{
		Jobs: svc, Ledger: l, Redis: rc, Storage: local, Files: local.Handler(),
		RateLimit: api.RateLimitOff, KeyPrefix: prefix, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	apiHandler = a
	if s.adminKey, err = a.CreateKey(t.Context(), api.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	// Small parts, so that a download of a few dozen records has several
	// result files.
	q.handler = worker.NewHandler(worker.HandlerConfig{Service: svc, Source: d, Storage: local, PartSize: 10, ProgressEvery: 5, Logger: quiet})
	return s
}

// setFront puts f in front of the API; nil takes it away.
func (s *stack) setFront(f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.front = f
}

// client returns a client of the stack with key. Its retries sleep through
// sleeps, which records each wait and waits nothing, unless opts say
// otherwise.
func (s *stack) client(t *testing.T, key string, opts ...client.Option) (*client.Client, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	opts = append([]client.Option{client.WithRetry(client.RetryPolicy{SleepFunc: sl.sleep})}, opts...)
	c, err := client.New(s.url, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

// adminClient returns a client of the stack with its admin key.
func (s *stack) adminClient(t *testing.T) *client.Client {
	t.Helper()
	c, _ := s.client(t, s.adminKey)
	return c
}

// account creates an account over the API with the admin key and returns
// it with a client of its user key.
func (s *stack) account(t *testing.T, plans ...string) (string, *client.Client, *sleeps) {
	t.Helper()
	admin, _ := s.client(t, s.adminKey)
	a, err := admin.CreateAccount(t.Context(), client.CreateAccountRequest{Name: "Acme", Plans: plans})
	if err != nil {
		t.Fatal(err)
	}
	c, sl := s.client(t, a.APIKey)
	return a.Account.ID, c, sl
}

// setAvailable adjusts a pool so that exactly n credits are available.
func (s *stack) setAvailable(t *testing.T, account, pool string, n int64) {
	t.Helper()
	p, err := s.ledger.Pool(t.Context(), account, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d := n - p.Available(); d != 0 {
		if _, err := s.ledger.Adjust(t.Context(), account, pool, d, "test", ""); err != nil {
			t.Fatal(err)
		}
	}
}

// check asserts the account's ledger invariants and that its journal
// replays to its pools.
func (s *stack) check(t *testing.T, account string) {
	t.Helper()
	ledgertest.CheckAccount(t, s.ledger, account)
}

// sleeps records the waits of a client's retries and polls, and waits
// nothing. Safe for concurrent use.
type sleeps struct {
	mu   sync.Mutex
	got  []time.Duration
	hook func(n int) // called with the count after each wait, if set
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.got = append(s.got, d)
	n, hook := len(s.got), s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.got...)
}

// workQueue is the jobs.Queue of a stack: it records what is enqueued and,
// once start is called, runs each job's task in the worker's handler, one
// at a time, as asynq would deliver it.
type workQueue struct {
	handler *worker.Handler

	mu       sync.Mutex
	enqueued []string
	canceled []string
	tasks    chan jobs.Job
}

var _ jobs.Queue = (*workQueue)(nil)

// Enqueue records j and hands it to the worker, if started.
func (q *workQueue) Enqueue(_ context.Context, j jobs.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueued = append(q.enqueued, j.ID)
	if q.tasks != nil {
		q.tasks <- j
	}
	return nil
}

// Cancel records j.
func (q *workQueue) Cancel(_ context.Context, j jobs.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.canceled = append(q.canceled, j.ID)
	return nil
}

func (q *workQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.enqueued)
}

// start runs the worker until the test ends.
func (q *workQueue) start(t *testing.T) {
	q.mu.Lock()
	q.tasks = make(chan jobs.Job, 64)
	tasks := q.tasks
	q.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-tasks:
				if err := q.handler.ProcessTask(ctx, worker.NewRunTask(j.Account, j.ID)); err != nil && ctx.Err() == nil {
					t.Errorf("worker: job %s: %v", j.ID, err)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

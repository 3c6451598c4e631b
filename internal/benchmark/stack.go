package benchmark

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// StackConfig says where a Stack runs.
type StackConfig struct {
	// Redis is the server everything keeps its state in, with the default
	// key prefixes, so that a `creditrun worker` process started against it
	// sees the same jobs.
	Redis redis.UniversalClient
	// Asynq is the same server, as asynq connects to it.
	Asynq asynq.RedisConnOpt
	// Account is the account the bench submits as; it must not exist yet.
	Account string
	// ResultsDir keeps the result files of the local storage backend.
	ResultsDir string
	// Logger takes what the API and the workers log. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// benchPlan is the plan of the bench's account: people, with every
// operation. Its pool is topped up to benchCredits, so no run goes short.
const benchPlan = "people-1k-99"

// benchCredits is the bench account's balance: more than any run reserves.
const benchCredits = 1 << 38

// Stack is creditrun's submit path wired as `creditrun all` wires it: the
// jobs service on the ledger, the job store and the asynq queue, behind the
// HTTP API on a loopback listener with rate limiting off, and an account
// with a user key and credits for any run.
type Stack struct {
	Service *jobs.Service
	Ledger  *ledger.Redis
	Storage *storage.Local
	// URL is the API's base URL; Key the account's user key.
	URL, Key, Account string

	cfg       StackConfig
	client    *asynq.Client
	inspector *asynq.Inspector
	http      *http.Server
	served    chan struct{} // closed when Serve has returned
}

// NewStack builds the stack, starts the API and opens the account. Close
// stops it.
func NewStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Stack{cfg: cfg, Account: cfg.Account, served: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.Ledger = ledger.New(cfg.Redis, ledger.Options{})
	store := jobstore.New(cfg.Redis, jobstore.Options{})
	s.client = asynq.NewClient(cfg.Asynq)
	s.inspector = asynq.NewInspector(cfg.Asynq)
	s.Service = jobs.NewService(jobs.Config{
		Ledger: s.Ledger, Store: store, Queue: worker.NewQueue(s.client, s.inspector), Accounts: store,
		Recorder:  jobstore.Recorder{Ledger: s.Ledger, Store: store},
		Catalog:   plan.Builtin(),
		DataTypes: func(dt string) bool { return slices.Contains(source.DataTypes(), dt) },
	})

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench api: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s.Storage = storage.NewLocal(cfg.ResultsDir, s.URL, secret, nil)
	srv, err := api.New(api.Config{
		Jobs: s.Service, Ledger: s.Ledger, Redis: cfg.Redis, Storage: s.Storage, Files: s.Storage.Handler(),
		RateLimit: api.RateLimitOff, Logger: cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bench api: %w", err)
	}
	s.http = api.NewHTTPServer(srv, api.DefaultTimeouts) // as `creditrun all` serves it
	go func() {
		_ = s.http.Serve(ln) // http.ErrServerClosed after Close
		close(s.served)
	}()

	if _, err := s.Service.CreateAccount(ctx, cfg.Account, "creditrun bench", []string{benchPlan}); err != nil {
		return nil, fmt.Errorf("bench account: %w", err)
	}
	if _, err := s.Ledger.TopUp(ctx, cfg.Account, "people", benchCredits, "creditrun bench", ""); err != nil {
		return nil, fmt.Errorf("bench credits: %w", err)
	}
	if s.Key, err = srv.CreateKey(ctx, api.RoleUser, cfg.Account); err != nil {
		return nil, fmt.Errorf("bench key: %w", err)
	}
	return s, nil
}

// Worker returns a creditrun worker on source: worker.NewServer with
// concurrency tasks at once, and its handler.
func (s *Stack) Worker(src source.Source, concurrency int) (*asynq.Server, *worker.Handler) {
	h := worker.NewHandler(worker.HandlerConfig{Service: s.Service, Source: src, Storage: s.Storage, Logger: s.cfg.Logger})
	return worker.NewServer(s.cfg.Asynq, concurrency, h), h
}

// DeleteTasks deletes the job:run tasks of the given jobs, which a
// measurement queued and no worker is to run; ids of tasks already gone are
// skipped. It deletes them from goroutines goroutines.
func (s *Stack) DeleteTasks(ctx context.Context, ids []string, goroutines int) error {
	return forEach(ctx, ids, goroutines, func(id string) error {
		err := s.inspector.DeleteTask(worker.QueueName, id)
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			return fmt.Errorf("delete task %s: %w", id, err)
		}
		return nil
	})
}

// Close stops the API and closes the stack's connections.
func (s *Stack) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
		<-s.served
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.inspector != nil {
		s.inspector.Close()
	}
}

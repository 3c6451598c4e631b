package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/console"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// recordsOutliveFiles is how much longer a job's record is kept than its
// result files: the job says for a week that its files expired.
const recordsOutliveFiles = 7 * 24 * time.Hour

// app is one creditrun process: the parts its roles share, built from the
// config and wired here, and only here.
type app struct {
	cfg      config
	log      *slog.Logger
	redis    redis.UniversalClient
	asynqOpt asynq.RedisConnOpt
	ledger   *ledger.Redis
	store    *jobstore.Redis
	catalog  *plan.Catalog
	// dataTypes are the data types requests may name (loadCatalog).
	dataTypes []string
	// storage keeps result files: S3 when a bucket is configured, else
	// local, the data dir, whose links the API serves itself.
	storage  storage.Backend
	local    *storage.Local
	queue    *worker.Queue
	tasks    *asynq.Inspector
	svc      *jobs.Service
	registry *prometheus.Registry
	closers  []func()
	// now is Redis's time (ledger.RedisClock), the clock of the ledger,
	// the job records and the jobs service.
	now func() time.Time
	// sourceFunc, when set, wraps the dataset the worker reads. Only tests
	// set it (through serveWith's setup), to hold a job in the middle of
	// its run.
	sourceFunc func(*dataset.Dataset) source.Source
}

// newApp connects to Redis (the URL given, whatever the config says) and
// builds the parts every role uses.
func newApp(ctx context.Context, cfg config, redisURL string, log *slog.Logger) (*app, error) {
	target, err := parseRedisURL(redisURL)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, asynqOpt: target.asynq(), registry: prometheus.NewRegistry()}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.redis = target.client(4 * cfg.WorkerConcurrency)
	a.closers = append(a.closers, func() { a.redis.Close() })
	if err := a.redis.Ping(ctx).Err(); err != nil {
		a.close()
		return nil, fmt.Errorf("redis at %s: %w", redactURL(redisURL), err)
	}
	if a.catalog, a.dataTypes, err = loadCatalog(cfg.PlansFile, cfg.Dataset); err != nil {
		a.close()
		return nil, err
	}
	if cfg.S3Bucket != "" {
		// Credentials come from the SDK's default chain; the bucket is
		// created when it is missing (API.md).
		b, err := storage.NewS3(ctx, storage.S3Config{Bucket: cfg.S3Bucket, Endpoint: cfg.S3Endpoint,
			Region: cfg.S3Region, CreateBucket: true})
		if err != nil {
			a.close()
			return nil, fmt.Errorf("result storage: %w", err)
		}
		a.storage = b
	} else {
		secret, err := linkSecret(ctx, a.redis)
		if err != nil {
			a.close()
			return nil, err
		}
		a.local = storage.NewLocal(filepath.Join(cfg.DataDir, "results"), publicURL(cfg.HTTPAddr), secret, nil)
		a.storage = a.local
	}
	if cfg.WaitReplicas > 0 && target.mode == "cluster" {
		a.close()
		return nil, fmt.Errorf("redis-wait-replicas is for a master with replicas (redis:// or redis+sentinel://), not Redis Cluster")
	}
	// Every process stamps times with Redis's clock, so that one whose own
	// clock is off settles, fails and expires nothing at the wrong time.
	clock, err := ledger.NewRedisClock(ctx, a.redis, ledger.RedisClockOptions{})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("redis clock: %w", err)
	}
	a.closers = append(a.closers, clock.Close)
	a.now = clock.Now
	a.ledger = ledger.New(a.redis, ledger.Options{NowFunc: a.now, WaitReplicas: cfg.WaitReplicas})
	// A job's record outlives its result files by a week, so that the
	// expiry, which reads the record, always finds what to delete.
	a.store = jobstore.New(a.redis, jobstore.Options{RetainEnded: cfg.ResultTTL + recordsOutliveFiles, NowFunc: a.now})
	client := asynq.NewClient(a.asynqOpt)
	inspector := asynq.NewInspector(a.asynqOpt)
	a.closers = append(a.closers, func() { client.Close(); inspector.Close() })
	a.queue = worker.NewQueue(client, inspector)
	a.tasks = inspector
	a.svc = jobs.NewService(a.serviceConfig())
	return a, nil
}

// serviceConfig is the jobs service's config from the app's parts.
func (a *app) serviceConfig() jobs.Config {
	return jobs.Config{
		Ledger: a.ledger, Store: a.store, Queue: a.queue, Accounts: a.store, Catalog: a.catalog, NowFunc: a.now,
		Recorder: jobstore.Recorder{Ledger: a.ledger, Store: a.store},
		// Paying or waiving a hold re-tags the job's files, which releases them.
		Objects:           a.storage,
		ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) },
		DataTypes:         jobs.KnownDataType(a.dataTypes),
	}
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// linkSecret is the HMAC secret of local result links, made once and kept in
// Redis so that every API process signs and checks the same links.
func linkSecret(ctx context.Context, c redis.UniversalClient) ([]byte, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	const key = "cr:secret:links"
	if err := c.SetNX(ctx, key, hex.EncodeToString(b), 0).Err(); err != nil {
		return nil, fmt.Errorf("link secret: %w", err)
	}
	s, err := c.Get(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("link secret: %w", err)
	}
	return []byte(s), nil
}

// publicURL is the base of the links the API hands out for local files: the
// listen address, with a wildcard host read as loopback.
func publicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// apiHandler builds the HTTP API with the bootstrap admin key of the config,
// which it compares and never stores, and prepares the keys that earlier
// versions stored (api.Server.MigrateKeys).
func (a *app) apiHandler(ctx context.Context) (*api.Server, error) {
	if err := checkAdminKey(a.cfg.AdminKey); err != nil {
		return nil, err
	}
	rate := a.cfg.RateLimit
	if rate == 0 {
		rate = api.RateLimitOff
	}
	var files http.Handler
	if a.local != nil {
		files = a.local.Handler()
	}
	// With a dataset, the API matches enrichment items named by fields at
	// submit, so that a pool's dedup skips them then, and answers quotes.
	svc := a.svc
	if a.cfg.Dataset != "" {
		ds, err := a.openDataset(ctx)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() { ds.Close() })
		cfg := a.serviceConfig()
		cfg.Source = ds
		svc = jobs.NewService(cfg)
	}
	hooks, err := a.webhookService()
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Config{
		Jobs: svc, Ledger: a.ledger, Redis: a.redis, Storage: a.storage, Files: files,
		LinkTTL: a.cfg.LinkTTL, RateLimit: rate, Logger: a.log, Registry: a.registry,
		ServeMetrics: a.cfg.MetricsAddr == a.cfg.HTTPAddr, AdminKey: a.cfg.AdminKey, DataTypes: a.dataTypes,
		Webhooks: hooks, WebhookAllowPrivate: a.cfg.WebhookAllowPrivate,
	})
	if err != nil {
		return nil, err
	}
	// The usage counted in process is written before Redis closes.
	a.closers = append(a.closers, func() { srv.FlushUsage(context.Background()) })
	if err := srv.MigrateKeys(ctx); err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	if err := mountConsole(srv, console.Config{Jobs: svc, Ledger: a.ledger, Storage: a.storage, Redis: a.redis,
		Queues: a.tasks, LinkTTL: a.cfg.LinkTTL, NowFunc: a.now, Logger: a.log}); err != nil {
		return nil, err
	}
	return srv, nil
}

// runWorker runs asynq workers on the jobs queue until ctx ends; their
// metrics go to the app's registry.
func (a *app) runWorker(ctx context.Context) error {
	ds, err := a.openDataset(ctx)
	if err != nil {
		return err
	}
	defer ds.Close()
	var src source.Source = ds
	if a.sourceFunc != nil {
		src = a.sourceFunc(ds)
	}
	m, err := worker.NewMetrics(a.registry)
	if err != nil {
		return err
	}
	var slots *worker.AccountSlots
	if a.cfg.AccountConcurrency > 0 {
		if slots, err = worker.NewAccountSlots(a.redis, worker.SlotsConfig{Limit: a.cfg.AccountConcurrency, NowFunc: a.now, Logger: a.log}); err != nil {
			return err
		}
	}
	h := worker.NewHandler(worker.HandlerConfig{Service: a.svc, Source: src, Storage: a.storage, Logger: a.log,
		PartSize: int64(a.cfg.PartRecords), Metrics: m, Slots: slots})
	return worker.Run(ctx, a.asynqOpt, a.cfg.WorkerConcurrency, h)
}

// openDataset opens the configured dataset with its index files in the
// data dir (built by the first process on a dataset, mapped by the others)
// and the search budget of the config: what workers search and match, and
// what the API matches and counts with.
func (a *app) openDataset(ctx context.Context) (*dataset.Dataset, error) {
	dir := a.cfg.Dataset
	steps := a.cfg.SearchMaxSteps
	if steps == 0 {
		steps = -1 // no limit
	}
	ds, err := dataset.OpenWith(ctx, dir, dataset.Options{IndexDir: indexDir(a.cfg.DataDir), Logger: a.log, MaxSearchSteps: steps})
	if err != nil {
		return nil, fmt.Errorf("open the dataset %s: %w", dir, err)
	}
	return ds, nil
}

// indexDir is where a worker keeps its dataset's index files, in its data
// dir: built by the first worker on a dataset, mapped by every worker.
func indexDir(dataDir string) string { return filepath.Join(dataDir, "index") }

// opsHandler serves what every process serves: /healthz, /readyz and
// /metrics. The API serves its own.
func (a *app) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := a.redis.Ping(r.Context()).Err(); err != nil {
			a.log.Warn("readyz: redis", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","redis":"unavailable"}`))
			return
		}
		if err := a.storage.Check(r.Context()); err != nil {
			a.log.Warn("readyz: storage", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","storage":"unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	// A collector that fails (the queue's, when Redis is down) is left out of
	// the page, not the whole page: the scheduler's last success matters
	// most then.
	mux.Handle("GET /metrics", a.metricsHandler())
	return mux
}

// metricsHandler serves the process's registry: every role's metrics.
func (a *app) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// serveHTTP serves h on addr until ctx ends, then shuts down gracefully.
// ready, if not nil, receives the address once listening.
func serveHTTP(ctx context.Context, addr string, h http.Handler, ready chan<- string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := api.NewHTTPServer(h, api.DefaultTimeouts)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

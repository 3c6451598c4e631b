package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// benchOptions are the flags of `creditrun bench`.
type benchOptions struct {
	asJSON            bool
	duration          time.Duration
	goroutines        int
	redisURL          string
	e2eJobs           int
	workerConcurrency int
	downloadRecords   int64
	skipMemory        bool
	skipS3            bool
	skipJobs          bool
	refreshAccounts   int
	cpuProfile        string
	webhookJobs       int
}

// runBench runs `creditrun bench`: each of creditrun's paths against the bare
// tool beneath it, measured in the same run against the same servers, and
// reported as rates and ratios.
func runBench(ctx context.Context, args []string) error {
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object with every figure at the top level")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "how long each timed measurement runs")
	fs.IntVar(&o.goroutines, "goroutines", 32, "concurrent clients")
	fs.StringVar(&o.redisURL, "redis-url", os.Getenv("CREDITRUN_REDIS_URL"),
		"Redis to measure against (env CREDITRUN_REDIS_URL); empty starts a redis-server. "+
			"Its asynq queue \"default\" must have no other workers or tasks: the bench runs its own workers on it")
	fs.StringVar(&o.redisURL, "redis", o.redisURL, "the same as --redis-url")
	fs.IntVar(&o.e2eJobs, "e2e-jobs", 10_000, "search jobs (and bare tasks) of the end-to-end measurement")
	fs.IntVar(&o.workerConcurrency, "worker-concurrency", 20, "tasks at once of the end-to-end workers, creditrun's and bare asynq's")
	fs.Int64Var(&o.downloadRecords, "download-records", 1_000_000, "records of the large download whose worker memory is measured (against 10,000)")
	fs.BoolVar(&o.skipMemory, "skip-memory", false, "skip the worker memory measurement (it generates and loads a dataset of --download-records people)")
	fs.BoolVar(&o.skipS3, "skip-s3", false, "skip the S3 download measurement (it starts versitygw and a worker process on a dataset of --download-records people)")
	fs.BoolVar(&o.skipJobs, "skip-jobs", false, "skip the measurements of jobs: submits, end to end, latency, worker memory and S3")
	fs.IntVar(&o.refreshAccounts, "refresh-accounts", 100_000, "accounts (of two pools each) of the refresh sweep; 0 skips it")
	fs.IntVar(&o.webhookJobs, "webhook-jobs", 1000, "search jobs of each round of the webhook measurement (jobs per second without an endpoint and with one that answers after 5 s); 0 skips it")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles of this process to `PREFIX`-submit.pprof (the last round of submits) and PREFIX-e2e.pprof (creditrun's end-to-end run)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.duration <= 0 || o.goroutines < 1 || o.e2eJobs < 1 || o.workerConcurrency < 1 || o.downloadRecords < 1 {
		return fmt.Errorf("bench: --duration, --goroutines, --e2e-jobs, --worker-concurrency and --download-records must be positive")
	}
	if o.refreshAccounts < 0 {
		return fmt.Errorf("bench: --refresh-accounts must not be negative")
	}
	client, url, stop, err := benchRedis(o.redisURL)
	if err != nil {
		return err
	}
	defer stop()

	progress := io.Writer(os.Stderr)
	fig := benchmark.Figures{Goroutines: o.goroutines, DurationS: o.duration.Seconds()}
	if err := benchLedgerPair(ctx, client, o, &fig, progress); err != nil {
		return err
	}
	if err := benchRefresh(ctx, client, o, &fig, progress); err != nil {
		return err
	}
	if !o.skipJobs {
		if err := benchJobs(ctx, client, url, o, &fig, progress); err != nil {
			return err
		}
	}
	if o.webhookJobs > 0 {
		if err := benchWebhooksIn(ctx, o, &fig, progress); err != nil {
			return err
		}
	}
	if o.asJSON {
		return fig.WriteJSON(os.Stdout)
	}
	return fig.WriteText(os.Stdout)
}

// benchLedgerPair measures a reserve and its settle against two trivial
// scripts (issue 2).
func benchLedgerPair(ctx context.Context, client redis.UniversalClient, o benchOptions, fig *benchmark.Figures, progress io.Writer) (err error) {
	prefix := fmt.Sprintf("crbench%d", time.Now().UnixNano())
	defer func() {
		err = errors.Join(err, deletePrefix(context.WithoutCancel(ctx), client, prefix))
	}()
	pair, err := benchmark.NewLedgerPair(ctx, client, prefix)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	trivial := benchmark.NewTrivialPair(client, prefix+":trivial")
	// Alternate the two so that a busy moment of the machine falls on both.
	var ledgerRate, trivialRate float64
	for round := range 2 {
		fmt.Fprintf(progress, "bench: ledger pair, round %d\n", round+1)
		r, err := benchmark.Rate(ctx, o.goroutines, o.duration/2, pair.Run)
		if err != nil {
			return fmt.Errorf("bench ledger pair: %w", err)
		}
		ledgerRate += r / 2
		fmt.Fprintf(progress, "bench: trivial pair, round %d\n", round+1)
		if r, err = benchmark.Rate(ctx, o.goroutines, o.duration/2, trivial.Run); err != nil {
			return fmt.Errorf("bench trivial pair: %w", err)
		}
		trivialRate += r / 2
	}
	fig.LedgerPairsPerS = benchmark.Round(ledgerRate, 0)
	fig.TrivialPairsPerS = benchmark.Round(trivialRate, 0)
	fig.LedgerPairRatio = benchmark.Ratio(ledgerRate, trivialRate)
	return nil
}

// benchRedis connects to url, or starts a redis-server of its own, and
// returns the client and the URL it connects to.
func benchRedis(url string) (redis.UniversalClient, string, func(), error) {
	if url != "" {
		c, err := newRedisClient(url)
		if err != nil {
			return nil, "", nil, err
		}
		return c, url, func() { c.Close() }, nil
	}
	srv, err := redisserver.Start(redisserver.Options{})
	if err != nil {
		return nil, "", nil, fmt.Errorf("bench: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 128})
	return c, srv.URL(), func() { c.Close(); srv.Close() }, nil
}

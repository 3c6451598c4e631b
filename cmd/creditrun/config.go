package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/creditrun/creditrun/scheduler"
)

// config is creditrun's configuration: each field a flag with an environment
// variable, the flag winning (API.md, "The binary").
type config struct {
	// HTTPAddr is the listen address. Defaults to 127.0.0.1:8080.
	HTTPAddr string
	// MetricsAddr is where /metrics is served for every role of the
	// process. Empty: the API does not serve it on its address (a worker or
	// scheduler alone keeps it on HTTPAddr, which only operators reach); set
	// to HTTPAddr, the API serves it there too.
	MetricsAddr string
	// RedisURL is the Redis to use; empty runs an embedded one (dev only).
	RedisURL string
	// AdminKey is the bootstrap admin API key, compared with requests and
	// never stored. Required to serve the API, except under `creditrun dev`,
	// which makes one up and prints it.
	AdminKey string
	// PlansFile is the plans file; empty uses the built-in catalog.
	PlansFile string
	// Dataset is the dataset directory. Defaults to a generated sample in
	// the data dir.
	Dataset string
	// DataDir holds local state: the embedded mode's, local storage's and
	// the worker's dataset index files (in index/).
	// Defaults to ./.creditrun.
	DataDir string
	// S3Bucket, S3Endpoint and S3Region configure result storage in S3;
	// an empty bucket keeps results in the data dir.
	S3Bucket   string
	S3Endpoint string
	S3Region   string
	// WorkerConcurrency is the tasks at once per worker process. Defaults to 20.
	WorkerConcurrency int
	// ResultTTL is how long result files are kept. Defaults to 168h.
	ResultTTL time.Duration
	// JournalRetention is how long journal entries are kept before the
	// scheduler trims them behind a checkpoint. Defaults to 9600h (400
	// days); 0 keeps every entry.
	JournalRetention time.Duration
	// RateLimit is requests per second per key, with an equal burst; 0 turns
	// it off. Defaults to 50.
	RateLimit int
	// LinkTTL is how long a result link stays valid. Defaults to 15m.
	LinkTTL time.Duration
	// PartRecords is the most records of one result file of a download;
	// bigger downloads split into several files. Defaults to 1,000,000.
	PartRecords int
	// WaitReplicas makes every change of credits wait until that many
	// replicas have it (Redis WAIT) before it answers, so that a failover
	// loses none a caller saw succeed. Defaults to 0: no waiting. Not for
	// Redis Cluster.
	WaitReplicas int
	// ReaperGrace is how long a job or reservation must be stranded (its
	// task archived or gone) before the scheduler's reaper fails it and
	// gives back what it holds. Defaults to 5m (scheduler.DefaultGrace).
	ReaperGrace time.Duration
	// AccountConcurrency is the most jobs of one account that run at once
	// across every worker of the cluster, so that one account's many jobs do
	// not keep the others' waiting (worker.AccountSlots). Defaults to 0: no
	// cap.
	AccountConcurrency int
	// SearchMaxSteps is the budget of work of one search's query, in steps
	// (index entries and records examined, dataset.DefaultMaxSearchSteps); a
	// job whose query takes more fails. Defaults to 10,000,000,000; 0: no
	// limit.
	SearchMaxSteps int64
	// WebhookAllowPrivate lets webhook URLs be plain http and reach
	// loopback, private and link-local addresses. Defaults to false; true
	// under `creditrun dev`.
	WebhookAllowPrivate bool
	// WebhookKey encrypts webhook endpoint secrets in Redis (AES-256-GCM),
	// so that a dump of Redis alone does not reveal them. Every process
	// must have the key the secrets were stored under. Defaults to empty:
	// secrets are stored unencrypted.
	WebhookKey string
	// WebhookConcurrency is the webhook deliveries at once per worker
	// process, apart from WorkerConcurrency. Defaults to 10 (also when 0).
	WebhookConcurrency int
	// MemoryLimitBytes is the Go runtime's soft memory limit of a process
	// (see applyMemoryLimit); 0: none. Defaults to memoryLimitAuto: 90% of
	// the memory limit of the process's cgroup, none without one.
	MemoryLimitBytes int64
}

// parseConfig reads args into a config, each flag defaulting to its
// environment variable, and that to the documented default.
func parseConfig(name string, args []string, getenv func(string) string) (config, *flag.FlagSet, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	str := func(p *string, flagName, env, def, usage string) {
		v := def
		if e := getenv(env); e != "" {
			v = e
		}
		fs.StringVar(p, flagName, v, usage+" (env "+env+")")
	}
	var concurrency, rate, resultTTL, linkTTL, partRecords, waitReplicas, reaperGrace string
	str(&c.HTTPAddr, "http-addr", "CREDITRUN_HTTP_ADDR", "127.0.0.1:8080", "listen address")
	str(&c.MetricsAddr, "metrics-addr", "CREDITRUN_METRICS_ADDR", "", "address serving /metrics; empty: not on the API's address; the HTTP address itself: on the API's too")
	str(&c.RedisURL, "redis-url", "CREDITRUN_REDIS_URL", "", "redis://host:port/db, redis+cluster://h1:p1,h2:p2 or redis+sentinel://h1:p1/master; empty: embedded (dev only)")
	str(&c.AdminKey, "admin-key", "CREDITRUN_ADMIN_KEY", "", "the bootstrap admin API key, never stored; required to serve the API (creditrun dev makes one up)")
	str(&c.PlansFile, "plans", "CREDITRUN_PLANS", "", "plans file (YAML); empty: the built-in catalog")
	str(&c.Dataset, "dataset", "CREDITRUN_DATASET", "", "dataset directory; empty: a generated sample in the data dir")
	str(&c.DataDir, "data-dir", "CREDITRUN_DATA_DIR", "./.creditrun", "local state for the embedded mode and local storage")
	str(&c.S3Bucket, "s3-bucket", "CREDITRUN_S3_BUCKET", "", "bucket for result files; empty: the data dir")
	str(&c.S3Endpoint, "s3-endpoint", "CREDITRUN_S3_ENDPOINT", "", "S3-compatible endpoint (path-style when set)")
	str(&c.S3Region, "s3-region", "CREDITRUN_S3_REGION", "us-east-1", "S3 region")
	str(&concurrency, "worker-concurrency", "CREDITRUN_WORKER_CONCURRENCY", "20", "tasks at once per worker process")
	str(&resultTTL, "result-ttl", "CREDITRUN_RESULT_TTL", "168h", "how long result files are kept")
	var journalRetention string
	str(&journalRetention, "journal-retention", "CREDITRUN_JOURNAL_RETENTION", "9600h", "how long journal entries are kept before they are trimmed behind a checkpoint; 0 keeps every entry")
	str(&rate, "rate-limit", "CREDITRUN_RATE_LIMIT", "50", "requests per second per key, with an equal burst; 0 turns it off")
	str(&linkTTL, "link-ttl", "CREDITRUN_LINK_TTL", "15m", "how long a result link stays valid")
	str(&partRecords, "part-records", "CREDITRUN_PART_RECORDS", "1000000", "the most records of one result file; bigger downloads split into parts")
	str(&reaperGrace, "reaper-grace", "CREDITRUN_REAPER_GRACE", scheduler.DefaultGrace.String(), "how long a job or reservation stays stranded before the reaper gives back what it holds")
	var accountConcurrency, searchSteps string
	str(&accountConcurrency, "account-concurrency", "CREDITRUN_ACCOUNT_CONCURRENCY", "0", "jobs of one account that run at once across the cluster; 0: no cap")
	str(&searchSteps, "search-max-steps", "CREDITRUN_SEARCH_MAX_STEPS", "10000000000", "the most steps (index entries and records examined) one search's query may take; 0: no limit")
	str(&waitReplicas, "redis-wait-replicas", "CREDITRUN_REDIS_WAIT_REPLICAS", "0", "replicas every change of credits waits for (Redis WAIT) before it answers; 0: none")
	var allowPrivate, webhookConcurrency string
	str(&allowPrivate, "webhook-allow-private", "CREDITRUN_WEBHOOK_ALLOW_PRIVATE", "false", "allow webhook URLs on loopback/private addresses and plain http (dev and tests)")
	str(&c.WebhookKey, "webhook-key", "CREDITRUN_WEBHOOK_KEY", "", "key that encrypts webhook secrets in Redis; empty: stored unencrypted")
	str(&webhookConcurrency, "webhook-concurrency", "CREDITRUN_WEBHOOK_CONCURRENCY", "10", "webhook deliveries at once per worker process")
	var memoryLimit string
	str(&memoryLimit, "memory-limit", "CREDITRUN_MEMORY_LIMIT", "auto", "the Go runtime's soft memory limit: auto (90% of the cgroup's memory limit, none without one), off, or a size such as 512MiB; GOMEMLIMIT wins over it")
	if err := fs.Parse(args); err != nil {
		return config{}, fs, err
	}
	if fs.NArg() > 0 {
		return config{}, fs, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	var errs []error
	atoi := func(what, s string, p *int) {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", what, s))
		}
		*p = n
	}
	dur := func(what, s string, p *time.Duration) {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 15m or 168h", what, s))
		}
		*p = d
	}
	atoi("worker-concurrency", concurrency, &c.WorkerConcurrency)
	atoi("rate-limit", rate, &c.RateLimit)
	atoi("part-records", partRecords, &c.PartRecords)
	atoi("redis-wait-replicas", waitReplicas, &c.WaitReplicas)
	atoi("account-concurrency", accountConcurrency, &c.AccountConcurrency)
	if n, err := strconv.ParseInt(searchSteps, 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("search-max-steps: %q is not a whole number", searchSteps))
	} else {
		c.SearchMaxSteps = n
	}
	atoi("webhook-concurrency", webhookConcurrency, &c.WebhookConcurrency)
	if b, err := strconv.ParseBool(allowPrivate); err != nil {
		errs = append(errs, fmt.Errorf("webhook-allow-private: %q is not true or false", allowPrivate))
	} else {
		c.WebhookAllowPrivate = b
	}
	if n, err := parseMemoryLimit(memoryLimit); err != nil {
		errs = append(errs, fmt.Errorf("memory-limit: %w", err))
	} else {
		c.MemoryLimitBytes = n
	}
	dur("result-ttl", resultTTL, &c.ResultTTL)
	dur("journal-retention", journalRetention, &c.JournalRetention)
	dur("link-ttl", linkTTL, &c.LinkTTL)
	dur("reaper-grace", reaperGrace, &c.ReaperGrace)
	if err := errors.Join(errs...); err != nil {
		return config{}, fs, err
	}
	return c, fs, c.validate()
}

// validate checks the config at start-up.
func (c config) validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http-addr is empty"))
	}
	if c.WorkerConcurrency < 1 {
		errs = append(errs, fmt.Errorf("worker-concurrency must be 1 or more, got %d", c.WorkerConcurrency))
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("rate-limit must be 0 or more, got %d", c.RateLimit))
	}
	if c.ResultTTL <= 0 {
		errs = append(errs, fmt.Errorf("result-ttl must be positive, got %s", c.ResultTTL))
	}
	if c.JournalRetention < 0 {
		errs = append(errs, fmt.Errorf("journal-retention must not be negative, got %s", c.JournalRetention))
	}
	if c.LinkTTL <= 0 {
		errs = append(errs, fmt.Errorf("link-ttl must be positive, got %s", c.LinkTTL))
	}
	if c.PartRecords < 1 {
		errs = append(errs, fmt.Errorf("part-records must be 1 or more, got %d", c.PartRecords))
	}
	if c.ReaperGrace < 0 {
		errs = append(errs, fmt.Errorf("reaper-grace must not be negative, got %s", c.ReaperGrace))
	}
	if c.AccountConcurrency < 0 {
		errs = append(errs, fmt.Errorf("account-concurrency must be 0 or more, got %d", c.AccountConcurrency))
	}
	if c.SearchMaxSteps < 0 {
		errs = append(errs, fmt.Errorf("search-max-steps must be 0 or more, got %d", c.SearchMaxSteps))
	}
	if c.WaitReplicas < 0 {
		errs = append(errs, fmt.Errorf("redis-wait-replicas must be 0 or more, got %d", c.WaitReplicas))
	}
	if c.WebhookConcurrency < 0 {
		errs = append(errs, fmt.Errorf("webhook-concurrency must be 1 or more (0: the default, 10), got %d", c.WebhookConcurrency))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir is empty"))
	}
	return errors.Join(errs...)
}

func envConfig(name string, args []string) (config, error) {
	c, _, err := parseConfig(name, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return c, err
	}
	if err != nil {
		return c, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

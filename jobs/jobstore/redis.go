package jobstore

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// DefaultRetainEnded is how long a job's record lives after it ends, unless
// Options.RetainEnded says otherwise.
const DefaultRetainEnded = 7 * 24 * time.Hour

// Redis keeps jobs and accounts in Redis: standalone, Cluster or miniredis.
type Redis struct {
	client      redis.UniversalClient
	keys        keys
	retainEnded time.Duration
	nowFunc     func() time.Time
}

// Options configure a Redis store.
type Options struct {
	// Prefix starts every key. Defaults to "cr". Tests set their own, so that
	// they can share one server.
	Prefix string
	// RetainEnded is how long a job's record, items and progress live after
	// the job ends. Defaults to DefaultRetainEnded (7 days); a value below a
	// millisecond counts as unset.
	RetainEnded time.Duration
	// NowFunc is the clock, read for the creation time of a job or account
	// that has none. Defaults to time.Now.
	NowFunc func() time.Time
}

// New returns a store that keeps its records through client.
func New(client redis.UniversalClient, opts Options) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "cr"
	}
	if opts.RetainEnded < time.Millisecond {
		opts.RetainEnded = DefaultRetainEnded
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	return &Redis{
		client:      client,
		keys:        keys{prefix: opts.Prefix},
		retainEnded: opts.RetainEnded,
		nowFunc:     opts.NowFunc,
	}
}

var (
	_ jobs.Store    = (*Redis)(nil)
	_ jobs.Accounts = (*Redis)(nil)
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// The scripts; each file starts with its contract.
var (
	createScript   = loadScript("create.lua")
	updateScript   = loadScript("update.lua")
	progressScript = loadScript("progress.lua")
	pageScript     = loadScript("page.lua")
	pruneScript    = loadScript("prune.lua")
)

func loadScript(name string) *redis.Script {
	body, err := scriptFS.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(body))
}

// retainMS is RetainEnded in milliseconds, the unit of PEXPIRE.
func (r *Redis) retainMS() int64 { return r.retainEnded.Milliseconds() }

// checkJobID returns an error wrapping credit.ErrInvalidID when account or id
// cannot be part of a key.
func checkJobID(account, id string) error {
	if err := credit.CheckID("account", account); err != nil {
		return err
	}
	return credit.CheckID("job", id)
}

// unknownJob is the error of a lookup by an id that cannot exist because it
// is malformed: ErrNotFound, as for any unknown id, and credit.ErrInvalidID.
func unknownJob(id string, err error) error {
	return fmt.Errorf("job %q: %w: %w", id, jobs.ErrNotFound, err)
}

// notFound is the error of a lookup of a job that is not there.
func notFound(id string) error {
	return fmt.Errorf("job %s: %w", id, jobs.ErrNotFound)
}

// reply turns a script's integer reply into an int64, whatever the client
// made of it.
func reply(ctx context.Context, c redis.Scripter, s *redis.Script, keys []string, args ...any) (int64, error) {
	return s.Run(ctx, c, keys, args...).Int64()
}

package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Keys says who an API key is; *api.Server implements it.
type Keys interface {
	// Identify returns who a key is. Returns api.ErrUnknownKey for an
	// unknown, revoked or expired key, or the Redis error.
	Identify(ctx context.Context, key string) (api.Identity, error)
	// IdentifyHash is Identify for a key known by its hash, as a session
	// keeps it. Returns what Identify returns.
	IdentifyHash(ctx context.Context, hash string) (api.Identity, error)
}

// Jobs is what the console needs of the jobs service; *jobs.Service
// implements it.
type Jobs interface {
	// Account returns an account. Returns jobs.ErrNotFound for an unknown id.
	Account(ctx context.Context, id string) (jobs.Account, error)
	// Get returns a job of the account. Returns jobs.ErrNotFound for an
	// unknown id and for another account's job.
	Get(ctx context.Context, account, id string) (jobs.Job, error)
	// List returns a page of the account's jobs, newest first, and the next
	// cursor. Returns jobs.ErrInvalidCursor for a bad cursor.
	List(ctx context.Context, account string, f jobs.ListFilter) ([]jobs.Job, string, error)
	// Hold returns the job's overage hold, nil when it has none.
	Hold(ctx context.Context, j jobs.Job) (*credit.Hold, error)
	// ListHolds returns a page of holds and the amount due of the unpaid
	// ones. Returns an error wrapping credit.ErrInvalidCursor,
	// credit.ErrInvalidStatus or credit.ErrInvalidID.
	ListHolds(ctx context.Context, f credit.HoldFilter) (credit.HoldPage, error)
	// PayHold marks a hold paid and releases its job's results. Returns a
	// *jobs.FieldError, credit.ErrHoldNotFound, credit.ErrInvalidID, an
	// error wrapping credit.ErrHoldConflict for a waived hold, or a
	// *jobs.RetagError with the paid hold when only the tags lag.
	PayHold(ctx context.Context, id, paymentRef string) (credit.Hold, error)
	// WaiveHold marks a hold waived; it returns what PayHold returns.
	WaiveHold(ctx context.Context, id, reason string) (credit.Hold, error)
}

// Ledger is what the console reads of the credit ledger; *ledger.Redis
// implements it.
type Ledger interface {
	// Pools returns every pool of an account. Returns
	// credit.ErrUnknownAccount when it has none.
	Pools(ctx context.Context, account string) ([]credit.Pool, error)
	// Journal returns a page of an account's journal, oldest first, and the
	// next cursor. Returns an error wrapping credit.ErrInvalidCursor.
	Journal(ctx context.Context, account string, q ledger.JournalQuery) ([]credit.Entry, string, error)
	// Hold returns a hold. Returns credit.ErrHoldNotFound or
	// credit.ErrInvalidID.
	Hold(ctx context.Context, id string) (credit.Hold, error)
	// Grants returns every grant of an account, active ones first in
	// spending order, then the ended ones, newest first. Returns
	// credit.ErrUnknownAccount for an account without pools.
	Grants(ctx context.Context, account string) ([]credit.Grant, error)
}

// Storage makes links to result files; package storage implements it.
type Storage interface {
	// URL returns a link that fetches the object at key with a plain GET
	// until expires. Returns an error when the link cannot be made.
	URL(ctx context.Context, key string, ttl time.Duration) (url string, expires time.Time, err error)
}

// Queues is what the admin's queues page reads and does; *asynq.Inspector
// implements it.
type Queues interface {
	// Queues returns the names of the queues. Returns the Redis error.
	Queues() ([]string, error)
	// GetQueueInfo returns a queue's counts and latency. Returns an error
	// for an unknown queue or a Redis failure.
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
	// ListRetryTasks returns a page of the tasks waiting to be retried.
	ListRetryTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	// ListArchivedTasks returns a page of the archived tasks.
	ListArchivedTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	// RunTask moves a retry or archived task to pending. Returns
	// asynq.ErrTaskNotFound or asynq.ErrQueueNotFound.
	RunTask(queue, id string) error
	// DeleteTask deletes a task. Returns asynq.ErrTaskNotFound or
	// asynq.ErrQueueNotFound.
	DeleteTask(queue, id string) error
}

// The defaults of Config.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultLinkTTL     = 15 * time.Minute
	DefaultKeyPrefix   = "cr"
)

// Config configures a Console. Keys, Jobs, Ledger, Storage and Redis are
// required.
type Config struct {
	// Keys says who an API key is (the API server).
	Keys Keys
	// Jobs is the jobs service.
	Jobs Jobs
	// Ledger is the credit ledger.
	Ledger Ledger
	// Storage makes the links of released result files.
	Storage Storage
	// Redis keeps the sessions.
	Redis redis.UniversalClient
	// Queues is asynq's inspector, for the admin's queues page. Nil: the
	// page says the queues cannot be read here.
	Queues Queues
	// IdleTimeout ends a session that made no request for this long.
	// Defaults to 30 minutes.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in, however busy.
	// Defaults to 12 hours.
	MaxAge time.Duration
	// LinkTTL is how long a download link stays valid. Defaults to 15
	// minutes.
	LinkTTL time.Duration
	// KeyPrefix starts every Redis key the console writes. Defaults to
	// "cr".
	KeyPrefix string
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// Logger logs failures. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case c.Keys == nil:
		return errors.New("console: Config.Keys is required")
	case c.Jobs == nil:
		return errors.New("console: Config.Jobs is required")
	case c.Ledger == nil:
		return errors.New("console: Config.Ledger is required")
	case c.Storage == nil:
		return errors.New("console: Config.Storage is required")
	case c.Redis == nil:
		return errors.New("console: Config.Redis is required")
	case c.IdleTimeout < time.Second:
		return fmt.Errorf("console: IdleTimeout %s is under a second", c.IdleTimeout)
	case c.MaxAge < c.IdleTimeout:
		return fmt.Errorf("console: MaxAge %s is under IdleTimeout %s", c.MaxAge, c.IdleTimeout)
	case c.LinkTTL < 0:
		return fmt.Errorf("console: LinkTTL %s is negative", c.LinkTTL)
	}
	return nil
}

// Console is the web console, an http.Handler for the paths under /console/.
type Console struct {
	cfg     Config
	keys    keys
	limiter *redis_rate.Limiter
	mux     *http.ServeMux
	pages   pages
	log     *slog.Logger
}

// New returns the console for cfg.
func New(cfg Config) (*Console, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, keys: keys{prefix: cfg.KeyPrefix}, limiter: redis_rate.NewLimiter(cfg.Redis),
		mux: http.NewServeMux(), pages: p, log: cfg.Logger}
	c.routes()
	return c, nil
}

// Who may see a page.
var (
	anyone = []api.Role{api.RoleUser, api.RoleFinance, api.RoleAdmin}
	staff  = []api.Role{api.RoleFinance, api.RoleAdmin}
	admins = []api.Role{api.RoleAdmin}
)

// routes registers every page and action of the console.
func (c *Console) routes() {
	c.mux.HandleFunc("GET /console/static/{file}", staticFile)
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.Handle("POST /console/logout", c.page(anyone, c.logout))
	c.mux.Handle("GET /console/{$}", c.page(anyone, c.home))
	c.mux.Handle("GET /console/holds", c.page(staff, c.holdsPage))
	c.mux.Handle("POST /console/holds/{id}/pay", c.page(staff, c.payHold))
	c.mux.Handle("POST /console/holds/{id}/waive", c.page(staff, c.waiveHold))
	c.mux.Handle("GET /console/accounts", c.page(staff, c.findAccount))
	c.mux.Handle("GET /console/accounts/{id}", c.page(anyone, c.accountPage))
	c.mux.Handle("GET /console/accounts/{id}/jobs/{job}", c.page(anyone, c.jobPage))
	c.mux.Handle("GET /console/queues", c.page(admins, c.queuesPage))
	c.mux.Handle("POST /console/queues/{queue}/tasks/{task}/run", c.page(admins, c.runTask))
	c.mux.Handle("POST /console/queues/{queue}/tasks/{task}/delete", c.page(admins, c.deleteTask))
}

// ServeHTTP answers a request under /console/, with the security headers
// of every page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.fail(w, r, nil, http.StatusNotFound, "There is no such page in the console.")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// home sends each role to its first page: finance and admin to the unpaid
// holds, a customer to its account.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	if s.Role == api.RoleUser {
		http.Redirect(w, r, accountPath(s.Account), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/holds?status=unpaid", http.StatusSeeOther)
}

// findAccount is the staff's "go to account" form: it redirects to the
// account's page.
func (c *Console) findAccount(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.URL.Query().Get("id")
	if credit.CheckID("account", id) != nil {
		c.fail(w, r, s, http.StatusNotFound, "That is not an account id. Account ids are letters, digits, - and _, such as acme.")
		return
	}
	http.Redirect(w, r, accountPath(id), http.StatusSeeOther)
}

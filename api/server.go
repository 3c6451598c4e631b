package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Jobs is what the API needs of the jobs service; *jobs.Service implements
// it.
type Jobs interface {
	// CreateAccount creates an account with its plans' pools; id "" makes
	// one up. Returns a *jobs.FieldError (field "id" or "plans") for bad
	// input and jobs.ErrAccountExists for a taken id.
	CreateAccount(ctx context.Context, id, name string, planIDs []string) (jobs.Account, error)
	// Account returns an account. Returns jobs.ErrNotFound for an unknown id.
	Account(ctx context.Context, id string) (jobs.Account, error)
	// Submit validates, reserves and queues a job. Returns a
	// *jobs.FieldError, jobs.ErrNotInPlan, a *credit.InsufficientError,
	// credit.ErrOverageDisabled or jobs.ErrNotFound; any other error is an
	// infrastructure failure with nothing reserved.
	Submit(ctx context.Context, account string, spec jobs.Spec) (jobs.Job, error)
	// SubmitIf is Submit whose reserve runs only while cond holds; it
	// returns an error wrapping credit.ErrConditionFailed otherwise, having
	// changed nothing.
	SubmitIf(ctx context.Context, account string, spec jobs.Spec, cond credit.Condition) (jobs.Job, error)
	// Get returns a job of the account. Returns jobs.ErrNotFound for an
	// unknown id and for another account's job.
	Get(ctx context.Context, account, id string) (jobs.Job, error)
	// List returns a page of the account's jobs, newest first, and the next
	// cursor. Returns jobs.ErrInvalidCursor for a bad cursor.
	List(ctx context.Context, account string, f jobs.ListFilter) ([]jobs.Job, string, error)
	// Cancel cancels a queued or running job and voids its reservation.
	// Returns jobs.ErrNotFound, or jobs.ErrEnded when the job had ended.
	Cancel(ctx context.Context, account, id string) (jobs.Job, error)
	// Hold returns the job's overage hold, nil when it has none.
	Hold(ctx context.Context, j jobs.Job) (*credit.Hold, error)
	// Holds lists, pays and waives overage holds (holds.go).
	Holds
	// Quotes says what a submit would do, reserving nothing (quotes.go).
	Quotes
	// QueryFields returns the fields a query on a data type may name; nil
	// when they are not known (no dataset), and any field is accepted.
	QueryFields(dataType string) ([]string, error)
}

// Ledger is what the API reads and changes of the credit ledger directly;
// *ledger.Redis implements it.
type Ledger interface {
	// Pools returns every pool of an account. Returns
	// credit.ErrUnknownAccount when it has none.
	Pools(ctx context.Context, account string) ([]credit.Pool, error)
	// Pool returns one pool. Returns credit.ErrUnknownAccount or
	// credit.ErrUnknownPool.
	Pool(ctx context.Context, account, pool string) (credit.Pool, error)
	// Journal returns a page of an account's journal, oldest first, and the
	// next cursor. Returns an error wrapping credit.ErrInvalidCursor.
	Journal(ctx context.Context, account string, q ledger.JournalQuery) ([]credit.Entry, string, error)
	// TopUp adds credits to a pool, once per key: a key applied before
	// changes nothing more; an empty key gets a fresh one. Returns
	// credit.ErrInvalidAmount, credit.ErrUnknownAccount,
	// credit.ErrUnknownPool, or credit.ErrKeyConflict for a key applied to
	// another change.
	TopUp(ctx context.Context, account, pool string, amount int64, reason, key string) (credit.Pool, error)
	// Adjust changes a pool's allocation either way. Returns a
	// *credit.InsufficientError when it would take more than is available,
	// and the errors of TopUp.
	Adjust(ctx context.Context, account, pool string, amount int64, reason, key string) (credit.Pool, error)
	// GrantLedger adds, lists and voids credit grants (grants.go).
	GrantLedger
}

// Storage hands out links to result files; package storage implements it.
type Storage interface {
	// URL returns an absolute URL that fetches the object at key with a plain
	// GET, without Authorization, until expires. Returns an error when the
	// link cannot be made (storage unreachable).
	URL(ctx context.Context, key string, ttl time.Duration) (url string, expires time.Time, err error)
	// Check returns an error when storage is unreachable.
	Check(ctx context.Context) error
}

// The defaults of Config.
const (
	DefaultLinkTTL   = 15 * time.Minute
	DefaultRateLimit = 50
	DefaultBodyLimit = 10 << 20
	DefaultKeyPrefix = "cr"
	// DefaultKeyCacheTTL is how long a key's role and account are kept in
	// process by default.
	DefaultKeyCacheTTL = 5 * time.Second
	// DefaultStallTimeout is how long a streamed response may go without a
	// write.
	DefaultStallTimeout = time.Minute
	// DefaultReadyCacheTTL is how long /readyz answers its last check.
	DefaultReadyCacheTTL = time.Second
	// keyCacheSize bounds the keys kept in process.
	keyCacheSize = 10_000
	// RateLimitOff as Config.RateLimit turns rate limiting off
	// (CREDITRUN_RATE_LIMIT=0).
	RateLimitOff = -1
)

// Config configures a Server. Jobs, Ledger, Redis and Storage are required.
type Config struct {
	// Jobs is the jobs service.
	Jobs Jobs
	// Ledger is the credit ledger.
	Ledger Ledger
	// Redis keeps API keys, idempotency records, rate limits and usage
	// counters.
	Redis redis.UniversalClient
	// Storage makes result links and is checked by /readyz.
	Storage Storage
	// Files serves the links of the local storage backend, mounted at
	// GET /v1/files/{key...} with no key. Nil answers 404 there.
	Files http.Handler
	// LinkTTL is how long a result link stays valid. Defaults to 15 minutes.
	LinkTTL time.Duration
	// RateLimit is requests per second per key, with an equal burst.
	// Defaults to 50; RateLimitOff turns it off.
	RateLimit int
	// BodyLimit caps a request body, in bytes. Defaults to 10 MiB.
	BodyLimit int64
	// KeyPrefix starts every Redis key the API writes. Defaults to "cr".
	KeyPrefix string
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// Logger logs failures. Defaults to slog.Default().
	Logger *slog.Logger
	// KeyCacheTTL is how long a process keeps what an API key is for (role,
	// account, expiry) before reading it again. A cached key is trusted only
	// while the revocation epoch in Redis is the one it was read in, so a
	// revoked key is refused at once everywhere. Defaults to 5 seconds; a
	// negative value turns the cache off.
	KeyCacheTTL time.Duration
	// AdminKey is the bootstrap admin key (CREDITRUN_ADMIN_KEY): requests
	// are compared with it (as SHA-256, in constant time) and it is never
	// stored, so that changing it revokes the old one. Empty: none.
	AdminKey string
	// Registry takes the API's metrics and is what /metrics serves.
	// Defaults to a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// ServeMetrics serves /metrics on the API's own handler. Off, it
	// answers 404 there: the API's address is public, and what the metrics
	// tell (routes, volumes, the queue) is for operators, who scrape them
	// on an address of their own.
	ServeMetrics bool
	// StallTimeout is how long a streamed response (a result file, the
	// holds export), which may outlast the server's write timeout, may go
	// without a write before the server gives up on its client. Defaults
	// to DefaultStallTimeout.
	StallTimeout time.Duration
	// ReadyCacheTTL is how long /readyz answers its last check again
	// before it checks Redis and storage anew, so that a flood of probes
	// costs the backends one check per TTL. Defaults to 1 second.
	ReadyCacheTTL time.Duration
	// DataTypes are the data types the dataset offers (source.Source's
	// DataTypes). A submit naming another is refused with 400 on
	// data_type, listing these. Nil, for an API without the dataset, leaves
	// the check to the jobs service (Config.DataTypes of package jobs) and
	// to the plans, which cover only the data types they name.
	DataTypes []string
	// Webhooks registers webhook endpoints and lists their deliveries. Nil
	// answers 404 on the webhook routes.
	Webhooks Webhooks
	// WebhookAllowPrivate accepts webhook URLs that are plain http or on
	// loopback, private or link-local addresses
	// (CREDITRUN_WEBHOOK_ALLOW_PRIVATE). Defaults to false.
	WebhookAllowPrivate bool
}

func (c *Config) setDefaults() {
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.KeyCacheTTL == 0 {
		c.KeyCacheTTL = DefaultKeyCacheTTL
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.ReadyCacheTTL == 0 {
		c.ReadyCacheTTL = DefaultReadyCacheTTL
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
	case c.Jobs == nil:
		return errors.New("api: Config.Jobs is required")
	case c.Ledger == nil:
		return errors.New("api: Config.Ledger is required")
	case c.Redis == nil:
		return errors.New("api: Config.Redis is required")
	case c.Storage == nil:
		return errors.New("api: Config.Storage is required")
	case c.LinkTTL < 0:
		return fmt.Errorf("api: LinkTTL %s is negative", c.LinkTTL)
	case c.RateLimit < RateLimitOff:
		return fmt.Errorf("api: RateLimit %d is negative", c.RateLimit)
	case c.BodyLimit < 0:
		return fmt.Errorf("api: BodyLimit %d is negative", c.BodyLimit)
	}
	return nil
}

// Server is the HTTP API, an http.Handler.
type Server struct {
	cfg     Config
	jobs    Jobs
	ledger  Ledger
	client  redis.UniversalClient
	keys    keys
	limiter *redis_rate.Limiter
	mux     *http.ServeMux
	// unmatched answers what no route of mux serves: 405 for a known path
	// with another method, 404 otherwise (unmatched.go).
	unmatched http.Handler
	metrics   *metrics
	log       *slog.Logger
	openapi   []byte
	// keyCache keeps what keys are for a few seconds, sparing the read of
	// their records; nil when Config.KeyCacheTTL turns it off.
	keyCache *expirable.LRU[string, principal]
	// auth is the rest of what authentication keeps in process (auth.go).
	auth *authState
	// ready is /readyz's last answer.
	ready readiness
	// counted is the usage counted in process and not yet written (usage.go).
	counted usageBatch
	// pendingTTL is how long a pending idempotency marker lives between
	// renewals; 0 is the default, pendingTTL (idempotency.go). Tests shorten it.
	pendingTTL time.Duration
}

// New returns the API server for cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	doc, err := openAPIJSON()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		jobs:    cfg.Jobs,
		ledger:  cfg.Ledger,
		client:  cfg.Redis,
		keys:    keys{prefix: cfg.KeyPrefix},
		limiter: redis_rate.NewLimiter(cfg.Redis),
		mux:     http.NewServeMux(),
		log:     cfg.Logger,
		openapi: doc,
	}
	if s.auth, err = newAuthState(cfg.AdminKey); err != nil {
		return nil, err
	}
	if cfg.KeyCacheTTL > 0 {
		s.keyCache = expirable.NewLRU[string, principal](keyCacheSize, nil, cfg.KeyCacheTTL)
	}
	s.metrics, err = newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	for _, rt := range s.routes() {
		h := rt.raw
		if h == nil {
			h = s.serve(rt)
		}
		s.mux.Handle(rt.method+" "+rt.pattern, s.metrics.instrument(rt.pattern, h))
	}
	// Not a route of the mux: a catch-all "/" pattern would match every
	// method and so keep the mux from answering 405 for a known path.
	s.unmatched = s.metrics.instrument("unmatched", s.serve(route{h: s.noRoute}))
	return s, nil
}

// ServeHTTP answers one request. Every response carries X-Request-Id, and
// every request is logged once it is answered (accesslog.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	sw, r, done := s.logAccess(w, r, id)
	defer done()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched.ServeHTTP(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// handler is an endpoint: it returns the status and the value to answer as
// JSON, or an error for the table in errors.go to map.
type handler func(c *call) (status int, v any, err error)

// route is one endpoint. Routes under /v1 take a key; roles says which may
// call (empty: any role). raw routes (operations) take no key and write
// their own response.
type route struct {
	method  string
	pattern string
	roles   []Role
	h       handler
	raw     http.HandlerFunc
	// submits: the route reserves credits, and a user key held in the key
	// cache is checked in the reserve's own step (deferredKey) instead of
	// by a read of the revocation epoch first.
	submits bool
}

// routes is every endpoint of the API, the one list that the mux and the
// OpenAPI test walk.
func (s *Server) routes() []route {
	user := []Role{RoleUser}
	admin := []Role{RoleAdmin}
	return []route{
		{method: "POST", pattern: "/v1/accounts", roles: admin, h: s.createAccount},
		{method: "POST", pattern: "/v1/accounts/{id}/keys", roles: admin, h: s.createAccountKey},
		{method: "POST", pattern: "/v1/keys", roles: admin, h: s.createStaffKey},
		{method: "GET", pattern: "/v1/keys", roles: admin, h: s.listKeys},
		{method: "GET", pattern: "/v1/accounts/{id}/keys", roles: admin, h: s.listAccountKeys},
		{method: "DELETE", pattern: "/v1/keys/{id}", roles: admin, h: s.revokeKey},
		{method: "POST", pattern: "/v1/accounts/{id}/credits", roles: admin, h: s.changeCredits},
		{method: "GET", pattern: "/v1/account", roles: user, h: s.getAccount},
		{method: "GET", pattern: "/v1/account/ledger", roles: user, h: s.getLedger},
		{method: "POST", pattern: "/v1/accounts/{id}/grants", roles: admin, h: s.addGrant},
		{method: "GET", pattern: "/v1/account/grants", roles: user, h: s.listOwnGrants},
		{method: "GET", pattern: "/v1/accounts/{id}/grants", roles: []Role{RoleUser, RoleFinance, RoleAdmin}, h: s.listGrants}, // a user key, its own only
		{method: "DELETE", pattern: "/v1/accounts/{id}/grants/{grant_id}", roles: admin, h: s.voidGrant},
		{method: "POST", pattern: "/v1/searches", roles: user, h: s.submit(jobs.Search), submits: true},
		{method: "POST", pattern: "/v1/downloads", roles: user, h: s.submit(jobs.Download), submits: true},
		{method: "POST", pattern: "/v1/enrichments", roles: user, h: s.submit(jobs.Enrichment), submits: true},
		{method: "POST", pattern: "/v1/quotes", roles: user, h: s.quote},
		{method: "GET", pattern: "/v1/jobs", roles: user, h: s.listJobs},
		{method: "GET", pattern: "/v1/jobs/{id}", roles: user, h: s.getJob},
		{method: "GET", pattern: "/v1/jobs/{id}/results", roles: user, h: s.getResults},
		{method: "DELETE", pattern: "/v1/jobs/{id}", roles: user, h: s.cancelJob},
		{method: "GET", pattern: "/v1/holds", roles: staff, h: s.listHolds},
		{method: "GET", pattern: "/v1/holds.csv", raw: s.streaming(s.exportHolds)}, // staff; through answer, as CSV
		{method: "POST", pattern: "/v1/holds/{id}/pay", roles: staff, h: s.payHold},
		{method: "POST", pattern: "/v1/holds/{id}/waive", roles: staff, h: s.waiveHold},
		{method: "POST", pattern: "/v1/webhooks", h: s.createWebhook},
		{method: "GET", pattern: "/v1/webhooks", h: s.listWebhooks},
		{method: "GET", pattern: "/v1/webhooks/{id}", h: s.getWebhook},
		{method: "DELETE", pattern: "/v1/webhooks/{id}", h: s.deleteWebhook},
		{method: "GET", pattern: "/v1/webhooks/{id}/deliveries", h: s.listDeliveries},
		{method: "POST", pattern: "/v1/webhooks/{id}/deliveries/{msg}/retry", h: s.retryDelivery},
		{method: "GET", pattern: "/healthz", raw: s.healthz},
		{method: "GET", pattern: "/readyz", raw: s.readyz},
		{method: "GET", pattern: "/metrics", raw: s.serveMetrics},
		{method: "GET", pattern: "/openapi.json", raw: s.serveOpenAPI},
		{method: "GET", pattern: "/v1/files/{key...}", raw: s.streaming(s.files)},
	}
}

// call is one request on its way through serve.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	p    principal
	body []byte
	// idemKey is the request's Idempotency-Key, "" when it has none.
	idemKey string
	// pool is the pool the request concerns, for X-Credits-Remaining;
	// credits is the exact count when the handler knows it.
	pool    string
	credits *int64
	// counters are usage counters to add to besides api_requests.
	counters []string
}

// response is a rendered answer, as the idempotency record keeps it.
type response struct {
	Status  int    `json:"status"`
	Body    []byte `json:"body"`
	Credits string `json:"credits,omitempty"`
}

// serve runs a /v1 endpoint: authenticate, rate-limit, count, authorize,
// read the body, run it at most once per Idempotency-Key, and answer.
func (s *Server) serve(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r}
		s.write(c, s.answer(c, rt))
	}
}

func (s *Server) answer(c *call, rt route) response {
	ctx := c.r.Context()
	// A submit without an Idempotency-Key may leave its key's check to its
	// reserve: nothing is written before it.
	deferKey := rt.submits && len(c.r.Header.Values("Idempotency-Key")) == 0
	p, authErr := s.authenticate(ctx, c.r, deferKey)
	if authErr != nil && !errors.Is(authErr, errUnauthorized) {
		return s.render(c, 0, nil, authErr)
	}
	subject := "ip:" + clientIP(c.r)
	if authErr == nil {
		subject = "key:" + p.KeyHash
	}
	if err := s.limit(c, subject); err != nil {
		if authErr == nil {
			c.p = p
		}
		return s.render(c, 0, nil, err)
	}
	if authErr != nil {
		return s.render(c, 0, nil, authErr)
	}
	c.p = p
	noteKey(c.r, p.KeyID)
	if p.Role == RoleUser {
		// Counted after the answer is made, with the counter of a
		// submitted job; not when a deferred check of the key refused it.
		defer func() {
			if c.p.Role == RoleUser {
				s.countUsage(c.p.Account, append(c.counters, counterRequests)...)
			}
		}()
	}
	if len(rt.roles) > 0 && !slices.Contains(rt.roles, p.Role) {
		return s.render(c, 0, nil, &forbiddenError{need: rt.roles, have: p.Role})
	}
	if c.r.Method != http.MethodPost {
		return s.run(c, rt.h)
	}
	key, err := idempotencyKey(c.r)
	if err != nil {
		return s.render(c, 0, nil, err)
	}
	if c.body, err = readBody(c.w, c.r, s.cfg.BodyLimit); err != nil {
		return s.render(c, 0, nil, err)
	}
	if key == "" {
		return s.run(c, rt.h)
	}
	c.idemKey = key
	return s.idempotent(c, key, func() response { return s.run(c, rt.h) })
}

// run calls h and renders what it returns. A panic becomes a logged 503,
// so that one bad request never takes the process down.
func (s *Server) run(c *call, h handler) response {
	status, v, err := func() (status int, v any, err error) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("api: panic", "method", c.r.Method, "path", c.r.URL.Path, "panic", p)
				status, v, err = 0, nil, fmt.Errorf("panic: %v", p)
			}
		}()
		return h(c)
	}()
	return s.render(c, status, v, err)
}

// render turns what a handler returned into a response, with the credits
// header of a user key.
func (s *Server) render(c *call, status int, v any, err error) response {
	if err != nil && c.p.deferred {
		// A key whose check was deferred to its reserve is checked before
		// any refusal is told, and a revoked key is told 401 and nothing
		// else: no balance, no usage counted.
		if p, kerr := s.recheck(c.r.Context(), c.p); kerr != nil {
			c.p, err = principal{}, kerr
		} else {
			c.p = p
		}
	}
	if err != nil {
		ae := toAPIError(err)
		if ae.Status >= 500 {
			s.log.Error("api: request failed", "method", c.r.Method, "path", c.r.URL.Path,
				"request_id", c.w.Header().Get("X-Request-Id"), "err", err)
		}
		if ie, ok := errors.AsType[*credit.InsufficientError](err); ok && ie.Pool != "" {
			c.pool = ie.Pool
		}
		status, v = ae.Status, ae
	}
	body, merr := marshal(v)
	if merr != nil {
		s.log.Error("api: encode response", "err", merr)
		status, body = http.StatusServiceUnavailable, []byte(`{"error":"unavailable","message":"The response could not be encoded.","details":{}}`)
	}
	return response{Status: status, Body: body, Credits: s.creditsHeader(c)}
}

// creditsHeader is X-Credits-Remaining for a user key: the exact count the
// handler knows, else the available credits of the request's pool, else the
// sum over the account's pools. Empty for other keys, and when the count
// cannot be read (the response goes out without it rather than fail).
func (s *Server) creditsHeader(c *call) string {
	if c.p.Role != RoleUser {
		return ""
	}
	if c.credits != nil {
		return strconv.FormatInt(*c.credits, 10)
	}
	ctx := c.r.Context()
	if c.pool != "" {
		p, err := s.ledger.Pool(ctx, c.p.Account, c.pool)
		if err == nil {
			return strconv.FormatInt(max(p.Available(), 0), 10)
		}
	}
	pools, err := s.ledger.Pools(ctx, c.p.Account)
	if err != nil {
		if !errors.Is(err, credit.ErrUnknownAccount) {
			s.log.Warn("api: read credits for header", "account", c.p.Account, "err", err)
		}
		return ""
	}
	var sum int64
	for _, p := range pools {
		sum += max(p.Available(), 0)
	}
	return strconv.FormatInt(sum, 10)
}

// write sends a response.
func (s *Server) write(c *call, resp response) {
	h := c.w.Header()
	if resp.Credits != "" {
		h.Set("X-Credits-Remaining", resp.Credits)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)+1))
	c.w.WriteHeader(resp.Status)
	_, _ = c.w.Write(append(resp.Body, '\n'))
}

// writeJSON answers v with status, for the operations endpoints.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// marshal encodes v as JSON without escaping <, > and &, so that result URLs
// read in a terminal as they are.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

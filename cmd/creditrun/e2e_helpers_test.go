package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/client"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
)

// The end-to-end tests drive creditrun only through HTTP, as a client does:
// admin calls make accounts and move credits, user calls submit and poll
// jobs, and result files come over their signed links. Each test runs its
// own stack (its own redis-server and data dir), so tests run in parallel
// and every account's journal is checked against its pools when the test
// ends.

// e2eDataset is the dataset of the in-process stacks, generated once per
// package run: records per_00000001 … per_00003000, biz_00000001 … and so on.
var e2eDataset = dataset.GenerateConfig{People: 3000, Properties: 1000, Businesses: 1000, Products: 500, Seed: 7}

// pollEvery is the pause between two polls of a job. Polls are bounded by a
// deadline, never timed.
const pollEvery = 50 * time.Millisecond

var (
	datasetOnce sync.Once
	datasetDir  string
	errDataset  error
	// tempRoot holds what the package's tests share (the dataset, the
	// binary); TestMain removes it.
	tempRoot string
)

func TestMain(m *testing.M) {
	var err error
	if tempRoot, err = os.MkdirTemp("", "creditrun-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(tempRoot)
	os.Exit(code)
}

// sharedDataset returns the directory of e2eDataset.
func sharedDataset(t testing.TB) string {
	t.Helper()
	datasetOnce.Do(func() {
		cfg := e2eDataset
		cfg.Dir = filepath.Join(tempRoot, "dataset")
		_, errDataset = dataset.Generate(context.Background(), cfg)
		datasetDir = cfg.Dir
	})
	if errDataset != nil {
		t.Fatalf("generate the dataset: %v", errDataset)
	}
	return datasetDir
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, chosen before the server starts so that its result links are right.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stack is one creditrun process (or a set of them) on one redis-server,
// seen from outside.
type stack struct {
	base  string // http://127.0.0.1:port
	admin string
	rdb   *redis.Client
	redis *redisserver.Server
	// dataDir holds the result files; processes on one stack share it.
	dataDir string
	dataset string

	mu       sync.Mutex
	userKeys map[string]bool // keys that must get X-Credits-Remaining
	rateOn   bool            // whether X-RateLimit-* must be on /v1 responses
}

type stackOptions struct {
	roles roles
	// rateLimit is CREDITRUN_RATE_LIMIT; 0 means 1000, high enough for
	// polling and the concurrency test, low enough that headers show.
	rateLimit int
	// sourceFunc wraps the dataset the worker reads.
	sourceFunc func(*dataset.Dataset) source.Source
	// on runs the process against another stack's Redis and data dir.
	on *stack
	// plans is CREDITRUN_PLANS; empty uses the built-in catalog.
	plans string
	// metricsAddr is CREDITRUN_METRICS_ADDR.
	metricsAddr string
}

// startStack runs `creditrun all` (or the roles asked for) in this process,
// with serve, on a fresh redis-server unless opts.on says otherwise, and
// stops it when the test ends.
func startStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	s := &stack{admin: "cr_admin_" + strconv.FormatInt(time.Now().UnixNano(), 36), userKeys: map[string]bool{}}
	if opts.on != nil {
		s.redis, s.rdb, s.dataDir, s.admin = opts.on.redis, opts.on.rdb, opts.on.dataDir, opts.on.admin
	} else {
		s.redis = redisserver.T(t)
		s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
		t.Cleanup(func() { s.rdb.Close() })
		s.dataDir = t.TempDir()
	}
	s.dataset = sharedDataset(t)
	if opts.rateLimit == 0 {
		opts.rateLimit = 1000
	}
	s.rateOn = opts.rateLimit > 0
	cfg := config{
		HTTPAddr: freeAddr(t), RedisURL: s.redis.URL(), AdminKey: s.admin, Dataset: s.dataset,
		DataDir: s.dataDir, S3Region: "us-east-1", WorkerConcurrency: 8, ResultTTL: 168 * time.Hour,
		RateLimit: opts.rateLimit, LinkTTL: 15 * time.Minute, PartRecords: 1_000_000,
		PlansFile: opts.plans, MetricsAddr: opts.metricsAddr,
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s.base = publicURL(cfg.HTTPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	// setup runs only with the API role; a worker alone reads the dataset
	// as it is.
	setup := func(_ context.Context, a *app, _ *api.Server) error {
		a.sourceFunc = opts.sourceFunc
		return nil
	}
	go func() {
		errc <- serveWith(ctx, cfg, cfg.RedisURL, opts.roles, io.Discard, ready, setup)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("creditrun stopped with: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		errc <- err
		t.Fatalf("creditrun did not start: %v", err)
	}
	return s
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// into decodes the body into v.
func (r reply) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

// apiErr is an error body of API.md.
type apiErr struct {
	Error   string         `json:"error"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// errorBody decodes an error answer and checks it has status.
func (r reply) errorBody(t testing.TB, status int) apiErr {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	var e apiErr
	r.into(t, &e)
	if e.Error == "" || e.Message == "" || e.Details == nil {
		t.Fatalf("error body %s lacks error, message or details", r)
	}
	return e
}

// call sends one request with key (none when empty) and a JSON body (none
// when nil; a string or []byte goes as it is), plus header pairs, and checks
// its headers (checkHeaders). A 429 fails the test: stacks run with a rate
// high enough for what their tests send.
func (s *stack) call(t testing.TB, method, path, key string, body any, header ...string) reply {
	t.Helper()
	r, err := s.do(method, path, key, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	s.checkHeaders(t, method, path, key, r)
	if r.status == http.StatusTooManyRequests {
		t.Fatalf("%s %s: rate limited: %s", method, path, r)
	}
	return r
}

// do sends one request, as call does, and checks nothing; safe in any
// goroutine.
func (s *stack) do(method, path, key string, body any, header ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// checkHeaders checks the headers that API.md puts on every response:
// X-Request-Id always, X-RateLimit-* on every /v1 call when rate limits are
// on, and X-Credits-Remaining for user keys. Safe in any goroutine.
func (s *stack) checkHeaders(t testing.TB, method, path, key string, r reply) {
	t.Helper()
	if r.header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: %s without X-Request-Id", method, path, r)
	}
	if strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v1/files/") && s.rateOn {
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if _, err := strconv.Atoi(r.header.Get(h)); err != nil {
				t.Errorf("%s %s: %s has %s %q", method, path, r, h, r.header.Get(h))
			}
		}
	}
	s.mu.Lock()
	user := s.userKeys[key]
	s.mu.Unlock()
	if user {
		if n, err := strconv.ParseInt(r.header.Get("X-Credits-Remaining"), 10, 64); err != nil || n < 0 {
			t.Errorf("%s %s: %s has X-Credits-Remaining %q", method, path, r, r.header.Get("X-Credits-Remaining"))
		}
	}
}

// must calls and fails the test unless the status is want.
func (s *stack) must(t testing.TB, want int, method, path, key string, body any, header ...string) reply {
	t.Helper()
	r := s.call(t, method, path, key, body, header...)
	if r.status != want {
		t.Fatalf("%s %s: got %s, want %d", method, path, r, want)
	}
	return r
}

// newAccount creates an account on plans with the admin key, and registers
// the journal check for the end of the test. It returns the account id and
// its user key.
func (s *stack) newAccount(t testing.TB, plans ...string) (id, key string) {
	t.Helper()
	id, key = s.createAccount(t, plans...)
	t.Cleanup(func() { s.checkJournal(t, id, key) })
	return id, key
}

// createAccount creates an account on plans with the admin key, without the
// journal check of newAccount.
func (s *stack) createAccount(t testing.TB, plans ...string) (id, key string) {
	t.Helper()
	out, err := s.client(t, s.admin).CreateAccount(context.Background(), client.CreateAccountRequest{Name: t.Name(), Plans: plans})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	if out.Account.ID == "" || !strings.HasPrefix(out.APIKey, "cr_live_") {
		t.Fatalf("account %+v", out)
	}
	s.mu.Lock()
	s.userKeys[out.APIKey] = true
	s.mu.Unlock()
	return out.Account.ID, out.APIKey
}

// poolJSON is a pool of GET /v1/account.
type poolJSON struct {
	Allocated          int64     `json:"allocated"`
	Used               int64     `json:"used"`
	Reserved           int64     `json:"reserved"`
	Available          int64     `json:"available"`
	OverageEnabled     bool      `json:"overage_enabled"`
	OverageLimit       int64     `json:"overage_limit"`
	OverageReserved    int64     `json:"overage_reserved"`
	OverageOutstanding int64     `json:"overage_outstanding"`
	PeriodStart        time.Time `json:"period_start"`
	PeriodEnd          time.Time `json:"period_end"`
}

// accountJSON is GET /v1/account.
type accountJSON struct {
	ID      string              `json:"id"`
	Role    string              `json:"role"`
	PlanIDs []string            `json:"plan_ids"`
	Pools   map[string]poolJSON `json:"pools"`
	Usage   map[string]any      `json:"usage"`
}

func (s *stack) account(t testing.TB, key string) accountJSON {
	t.Helper()
	var a accountJSON
	s.must(t, http.StatusOK, "GET", "/v1/account", key, nil).into(t, &a)
	return a
}

func (s *stack) pool(t testing.TB, key, pool string) poolJSON {
	t.Helper()
	p, ok := s.account(t, key).Pools[pool]
	if !ok {
		t.Fatalf("the account has no pool %q", pool)
	}
	return p
}

// setAvailable adjusts a pool with the admin key (a negative amount) so that
// exactly n credits are available.
func (s *stack) setAvailable(t testing.TB, account, key, pool string, n int64) {
	t.Helper()
	diff := n - s.pool(t, key, pool).Available
	if diff == 0 {
		return
	}
	p, err := s.client(t, s.admin).ChangeCredits(context.Background(), account, client.CreditsRequest{Pool: pool, Amount: diff, Reason: "test setup"})
	if err != nil {
		t.Fatalf("adjust %s by %d: %v", pool, diff, err)
	}
	if p.Available != n {
		t.Fatalf("after adjusting %s by %d: available %d, want %d", pool, diff, p.Available, n)
	}
}

// jobJSON is a job of GET /v1/jobs/{id}.
type jobJSON struct {
	ID              string          `json:"id"`
	Kind            string          `json:"kind"`
	Status          string          `json:"status"`
	NumRecords      int64           `json:"num_records"`
	CreditsReserved int64           `json:"credits_reserved"`
	NumFound        int64           `json:"num_found"`
	TotalCost       int64           `json:"total_cost"`
	CreditsReleased int64           `json:"credits_released"`
	Overage         int64           `json:"overage"`
	Hold            *holdJSON       `json:"hold"`
	Progress        *progressJSON   `json:"progress"`
	Results         []resultJSON    `json:"results"`
	Records         json.RawMessage `json:"records"`
	Error           string          `json:"error"`
}

type holdJSON struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	OverageCredits int64  `json:"overage_credits"`
	AmountDueCents int64  `json:"amount_due_cents"`
}

type progressJSON struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

type resultJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Format    string    `json:"format"`
	Records   int64     `json:"records"`
	Bytes     int64     `json:"bytes"`
}

// metaJSON is the meta of a 202.
type metaJSON struct {
	Requested         int64             `json:"requested"`
	Processed         int64             `json:"processed"`
	CreditsReserved   int64             `json:"credits_reserved"`
	CreditsRemaining  int64             `json:"credits_remaining"`
	SkippedDuplicates int64             `json:"skipped_duplicates"`
	OverageReserved   int64             `json:"overage_reserved"`
	Partial           bool              `json:"partial"`
	PartialReason     *string           `json:"partial_reason"`
	TrackingIDToJobID map[string]string `json:"tracking_id_to_job_id"`
}

// submit posts a job to path (/v1/searches, /v1/downloads or
// /v1/enrichments) and expects a 202.
func (s *stack) submit(t testing.TB, key, path string, body any, header ...string) (jobJSON, metaJSON) {
	t.Helper()
	var out struct {
		Job  jobJSON  `json:"job"`
		Meta metaJSON `json:"meta"`
	}
	r := s.must(t, http.StatusAccepted, "POST", path, key, body, header...)
	r.into(t, &out)
	if out.Job.ID == "" || out.Job.Status != "queued" {
		t.Fatalf("submit: %s", r)
	}
	if got := r.header.Get("X-Credits-Remaining"); got != strconv.FormatInt(out.Meta.CreditsRemaining, 10) {
		t.Errorf("submit: X-Credits-Remaining %q, meta.credits_remaining %d", got, out.Meta.CreditsRemaining)
	}
	return out.Job, out.Meta
}

func (s *stack) job(t testing.TB, key, id string) (jobJSON, reply) {
	t.Helper()
	r := s.must(t, http.StatusOK, "GET", "/v1/jobs/"+id, key, nil)
	var j jobJSON
	r.into(t, &j)
	return j, r
}

func ended(status string) bool {
	return status == "succeeded" || status == "failed" || status == "canceled"
}

// waitJob polls a job until ok says it is there, for at most limit.
func (s *stack) waitJob(t testing.TB, key, id string, limit time.Duration, what string, ok func(jobJSON) bool) (jobJSON, reply) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		j, r := s.job(t, key, id)
		if ok(j) {
			return j, r
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not %s after %s: %s", id, what, limit, r)
		}
		time.Sleep(pollEvery)
	}
}

// waitEnded polls a job until it ends.
func (s *stack) waitEnded(t testing.TB, key, id string) (jobJSON, reply) {
	t.Helper()
	return s.waitJob(t, key, id, 30*time.Second, "ended", func(j jobJSON) bool { return ended(j.Status) })
}

// waitSucceeded polls a job until it ends and fails the test unless it
// succeeded.
func (s *stack) waitSucceeded(t testing.TB, key, id string) (jobJSON, reply) {
	t.Helper()
	j, r := s.waitEnded(t, key, id)
	if j.Status != "succeeded" {
		t.Fatalf("job %s ended %s: %s", id, j.Status, r)
	}
	return j, r
}

// fetch GETs a result link with a plain client and no Authorization.
func fetch(t testing.TB, link string) []byte {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() {
		t.Fatalf("result url %q is not absolute", link)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", link, resp.StatusCode, data)
	}
	return data
}

// entryJSON is an entry of GET /v1/account/ledger.
type entryJSON struct {
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	Type           string    `json:"type"`
	Pool           string    `json:"pool"`
	JobID          string    `json:"job_id"`
	Amount         int64     `json:"amount"`
	AvailableAfter int64     `json:"available_after"`
}

// ledgerEntries reads the account's whole journal over HTTP, in pages of 7
// so that the cursor is exercised.
func (s *stack) ledgerEntries(t testing.TB, key string) []entryJSON {
	t.Helper()
	var all []entryJSON
	cursor := ""
	for range 100_000 {
		path := "/v1/account/ledger?limit=7"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Entries    []entryJSON `json:"entries"`
			NextCursor *string     `json:"next_cursor"`
		}
		s.must(t, http.StatusOK, "GET", path, key, nil).into(t, &page)
		all = append(all, page.Entries...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
	t.Fatal("the ledger's pages do not end")
	return nil
}

// jobsOf lists every job of the account over HTTP.
func (s *stack) jobsOf(t testing.TB, key, query string) []jobJSON {
	t.Helper()
	var all []jobJSON
	cursor := ""
	for range 100_000 {
		path := "/v1/jobs?limit=500" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Jobs       []jobJSON `json:"jobs"`
			NextCursor *string   `json:"next_cursor"`
		}
		s.must(t, http.StatusOK, "GET", path, key, nil).into(t, &page)
		all = append(all, page.Jobs...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
	t.Fatal("the job list's pages do not end")
	return nil
}

// checkJournal asserts I4 and I2 for one account once its jobs have ended:
// the journal the API pages out is the ledger's journal; replayed from
// empty it gives the pools GET /v1/account shows; and each ended job's
// entries add up to what the job says: one post at most, post + overage =
// total_cost, and reserved = total_cost + released.
func (s *stack) checkJournal(t testing.TB, account, key string) {
	t.Helper()
	if t.Failed() {
		return // the state may be anything; the failure says why
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(s.jobsOf(t, key, "&status=queued"))+len(s.jobsOf(t, key, "&status=running")) > 0 {
		if time.Now().After(deadline) {
			t.Errorf("journal check of %s: jobs still queued or running after 30s", account)
			return
		}
		time.Sleep(pollEvery)
	}
	api := s.ledgerEntries(t, key)
	acct := s.account(t, key)
	jobs := s.jobsOf(t, key, "")

	if s.rdb == nil {
		// No Redis to read (the embedded one of `creditrun dev`): check what
		// HTTP shows, that seq counts up by one and each pool's last
		// available_after is its available balance.
		last := map[string]int64{}
		for i, e := range api {
			if e.Seq != int64(i+1) {
				t.Errorf("journal of %s: entry %d has seq %d", account, i, e.Seq)
			}
			last[e.Pool] = e.AvailableAfter
		}
		for name, p := range acct.Pools {
			if last[name] != p.Available {
				t.Errorf("journal of %s, pool %s: last available_after %d, the account shows available %d", account, name, last[name], p.Available)
			}
		}
	}
	var entries []credit.Entry
	for _, e := range api {
		entries = append(entries, credit.Entry{Seq: e.Seq, Type: credit.EntryType(e.Type), Pool: e.Pool, JobID: e.JobID, Amount: e.Amount})
	}
	if s.rdb != nil {
		var err error
		entries, err = ledger.New(s.rdb, ledger.Options{}).JournalAll(context.Background(), account)
		if err != nil {
			t.Fatalf("journal of %s: %v", account, err)
		}
		s.replay(t, account, api, entries, acct)
	}
	byJob := map[string]*jobSums{}
	addJobSums(byJob, entries)
	for _, j := range jobs {
		if !ended(j.Status) {
			t.Errorf("job %s is %s after the account's jobs ended", j.ID, j.Status)
			continue
		}
		js := byJob[j.ID]
		if js == nil {
			js = &jobSums{}
		}
		if js.posts > 1 || js.reserves > 1 {
			t.Errorf("job %s: %d post and %d reserve entries, want at most one of each", j.ID, js.posts, js.reserves)
		}
		if js.charged(j) != j.TotalCost || !refunded(j) && js.overage != j.Overage {
			t.Errorf("job %s (%s): journal posts %d + overage %d, the job says total_cost %d, overage %d",
				j.ID, j.Status, js.post, js.overage, j.TotalCost, j.Overage)
		}
		if js.reserves == 1 {
			if js.reserve != j.CreditsReserved || js.reserve != js.post+js.overage+js.release {
				t.Errorf("job %s (%s): reserved %d (job says %d), posted %d + %d, released %d",
					j.ID, j.Status, js.reserve, j.CreditsReserved, js.post, js.overage, js.release)
			}
			if j.Status == "succeeded" && j.CreditsReleased != js.release {
				t.Errorf("job %s: credits_released %d, the journal released %d", j.ID, j.CreditsReleased, js.release)
			}
		}
	}
}

// replay checks that the journal the API pages out is the ledger's, and
// that the ledger's, replayed from empty with credit.Replay, gives the pools
// GET /v1/account shows (I4), none of them breaking I1.
func (s *stack) replay(t testing.TB, account string, api []entryJSON, entries []credit.Entry, acct accountJSON) {
	t.Helper()
	// The API leaves out checkpoints, which move no credits.
	moves := slices.DeleteFunc(slices.Clone(entries), func(e credit.Entry) bool { return e.Type == credit.EntryCheckpoint })
	if len(api) != len(moves) {
		t.Fatalf("journal of %s: the API shows %d entries, the ledger has %d", account, len(api), len(moves))
	}
	for i, e := range moves {
		want := entryJSON{Seq: e.Seq, Type: string(e.Type), Pool: e.Pool, JobID: e.JobID, Amount: e.Amount, AvailableAfter: e.AvailableAfter}
		got := api[i]
		if !got.At.Equal(e.At) {
			t.Errorf("journal of %s: entry %d at %s, the ledger says %s", account, i, got.At, e.At)
		}
		got.At = time.Time{}
		if got != want {
			t.Errorf("journal of %s: entry %d is %+v over HTTP, %+v in the ledger", account, i, got, want)
		}
	}
	pools, err := credit.Replay(entries)
	if err != nil {
		t.Fatalf("journal of %s: %v", account, err)
	}
	if len(pools) != len(acct.Pools) {
		t.Errorf("journal of %s replays %d pools, the account has %d", account, len(pools), len(acct.Pools))
	}
	for name, p := range acct.Pools {
		b := pools[name]
		got := poolJSON{
			Allocated: b.Allocated, Used: b.Used, Reserved: b.Reserved, Available: max(b.Available(), 0),
			OverageEnabled: p.OverageEnabled, OverageLimit: p.OverageLimit,
			OverageReserved: b.OverageReserved, OverageOutstanding: b.OverageOutstanding,
			PeriodStart: b.PeriodStart, PeriodEnd: b.PeriodEnd,
		}
		if !got.PeriodStart.Equal(p.PeriodStart) || !got.PeriodEnd.Equal(p.PeriodEnd) {
			t.Errorf("journal of %s, pool %s: replayed period %s–%s, the account shows %s–%s",
				account, name, got.PeriodStart, got.PeriodEnd, p.PeriodStart, p.PeriodEnd)
		}
		got.PeriodStart, got.PeriodEnd = p.PeriodStart, p.PeriodEnd
		if got != p {
			t.Errorf("journal of %s, pool %s: replay gives %+v, the account shows %+v", account, name, got, p)
		}
		if p.Available < 0 || p.OverageEnabled && p.OverageOutstanding+p.OverageReserved > p.OverageLimit {
			t.Errorf("pool %s breaks I1: %+v", name, p)
		}
	}
}

// jobSums are what the journal says of one job: the credits of its reserve,
// post, overage, release, refund and hold_waived entries, and how many
// reserve and post entries it has.
type jobSums struct {
	reserve, post, overage, release, refund, waived int64
	posts, reserves                                 int64
}

// charged is what the journal kept of the job's charge. A refunded job (the
// reaper's end of a job settled but never recorded) gave back its posting
// and had its hold waived; other jobs keep their overage whatever finance
// did with the hold.
func (s *jobSums) charged(j jobJSON) int64 {
	if refunded(j) {
		return s.post + s.overage - s.refund - s.waived
	}
	return s.post + s.overage
}

// refunded says whether j ended with its charge refunded, as its error says.
func refunded(j jobJSON) bool {
	return j.Status == "failed" && strings.HasSuffix(j.Error, "What it was charged was refunded.")
}

// addJobSums adds the entries that name a job to byJob's sums.
func addJobSums(byJob map[string]*jobSums, entries []credit.Entry) {
	for _, e := range entries {
		if e.JobID == "" {
			continue
		}
		s := byJob[e.JobID]
		if s == nil {
			s = &jobSums{}
			byJob[e.JobID] = s
		}
		switch e.Type {
		case credit.EntryReserve:
			s.reserve += e.Amount
			s.reserves++
		case credit.EntryPost:
			s.post += e.Amount
			s.posts++
		case credit.EntryOverage:
			s.overage += e.Amount
		case credit.EntryRelease:
			s.release += e.Amount
		case credit.EntryRefund:
			s.refund += e.Amount
		case credit.EntryHoldWaived:
			s.waived += e.Amount
		}
	}
}

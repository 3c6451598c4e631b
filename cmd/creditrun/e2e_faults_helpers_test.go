//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// The fault suite: each scenario runs the cluster topology on loopback
// (`creditrun api`, workers and the scheduler as processes, a real
// redis-server and versitygw), drives a mixed load through HTTP as
// customers and finance do, injects one kind of infrastructure fault
// while it runs, and then checks that the money is exact: every job the
// client was told was accepted (a 202) ends, settles exactly once, and
// every account's journal replays to its pools.
//
// `make test` runs each scenario in a bounded form. CREDITRUN_FAULTS=long
// (`make faults`) runs them at length: more jobs, more faults.

// faultsLong reports whether the suite runs at length.
func faultsLong() bool { return os.Getenv("CREDITRUN_FAULTS") == "long" }

// scale returns short, or long when the suite runs at length.
func scale[T any](short, long T) T {
	if faultsLong() {
		return long
	}
	return short
}

// faultOptions shape a fault stack.
type faultOptions struct {
	// workers is the number of worker processes. Defaults to 2.
	workers int
	// redis is the data server; a plain one when nil.
	redis *redisserver.Server
	// redisURL is what every process connects to unless the func fields
	// below say otherwise. Defaults to redis.URL().
	redisURL string
	// rdb reads the ledger for the checks. Defaults to a client of redis.
	rdb *redis.Client
	// roleRedisURL, when set, gives the Redis URL of a role ("api",
	// "scheduler", "worker") and worker index, e.g. through a proxy.
	roleRedisURL func(role string, i int) string
	// workerS3Endpoint, when set, gives worker i's S3 endpoint.
	workerS3Endpoint func(i int) string
	// env is added to every process's environment.
	env []string
	// gw is the S3 server; a new one when nil.
	gw *s3server.Server
}

// faultStack is a running fault scenario's cluster.
type faultStack struct {
	*stack
	t    *testing.T
	gw   *s3server.Server
	opts faultOptions

	mu        sync.Mutex
	workers   []*proc
	scheduler *proc
	api       *proc
	started   int // workers started so far
}

// startFaultStack starts versitygw, `creditrun api`, the workers and
// `creditrun scheduler`, each with its own data dir, on opts.redis.
func startFaultStack(t *testing.T, opts faultOptions) *faultStack {
	t.Helper()
	if opts.workers == 0 {
		opts.workers = 2
	}
	if opts.redis == nil && opts.redisURL == "" {
		opts.redis = redisserver.T(t)
	}
	if opts.redisURL == "" {
		opts.redisURL = opts.redis.URL()
	}
	if opts.rdb == nil {
		opts.rdb = redis.NewClient(&redis.Options{Addr: opts.redis.Addr()})
		t.Cleanup(func() { opts.rdb.Close() })
	}
	if opts.gw == nil {
		opts.gw = s3server.T(t)
	}
	fs := &faultStack{
		stack: &stack{admin: "cr_admin_fault_suite", rdb: opts.rdb, redis: opts.redis, dataset: sharedDataset(t),
			userKeys: map[string]bool{}, rateOn: true},
		t:    t,
		gw:   opts.gw,
		opts: opts,
	}
	apiAddr := freeAddr(t)
	fs.base = "http://" + apiAddr
	fs.api = startProc(t, "api", apiAddr, fs.env("api", 0)...)
	for range opts.workers {
		fs.startWorker()
	}
	fs.scheduler = startProc(t, "scheduler", freeAddr(t), fs.env("scheduler", 0)...)
	return fs
}

// env is the environment of role's process number i.
func (fs *faultStack) env(role string, i int) []string {
	url := fs.opts.redisURL
	if fs.opts.roleRedisURL != nil {
		if u := fs.opts.roleRedisURL(role, i); u != "" {
			url = u
		}
	}
	endpoint := fs.gw.Endpoint()
	if role == "worker" && fs.opts.workerS3Endpoint != nil {
		if e := fs.opts.workerS3Endpoint(i); e != "" {
			endpoint = e
		}
	}
	env := []string{
		"CREDITRUN_REDIS_URL=" + url,
		"CREDITRUN_S3_BUCKET=" + clusterBucket, "CREDITRUN_S3_ENDPOINT=" + endpoint, "CREDITRUN_S3_REGION=" + fs.gw.Region(),
		"AWS_ACCESS_KEY_ID=" + fs.gw.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + fs.gw.SecretKey(), "AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
		"CREDITRUN_DATASET=" + fs.dataset, "CREDITRUN_ADMIN_KEY=" + fs.admin,
		"CREDITRUN_RATE_LIMIT=100000", "CREDITRUN_WORKER_CONCURRENCY=4",
		"CREDITRUN_DATA_DIR=" + fs.t.TempDir(),
		"CREDITRUN_REAPER_GRACE=" + faultReaperGrace.String(),
	}
	return append(env, fs.opts.env...)
}

// startWorker starts one more worker process and returns its index.
func (fs *faultStack) startWorker() int {
	fs.t.Helper()
	fs.mu.Lock()
	i := fs.started
	fs.started++
	fs.mu.Unlock()
	p := startProc(fs.t, "worker", freeAddr(fs.t), fs.env("worker", i)...)
	fs.mu.Lock()
	fs.workers = append(fs.workers, p)
	fs.mu.Unlock()
	return i
}

// faultAccount is one customer of the load.
type faultAccount struct {
	id, key string
	plans   []string
}

// acceptedJob is a job the client got a 202 for.
type acceptedJob struct {
	id      string
	account int
	path    string
	at      time.Time
}

// faultLoad drives a mixed load through the API: searches, downloads and
// enrichments (some with dedup, some going into overage) from several
// accounts, cancels of some of them, keyed top-ups, and finance paying the
// holds. It records every change the API acknowledged, so that the oracle
// can tell whether one was lost.
type faultLoad struct {
	fs     *faultStack
	t      *testing.T
	accts  []faultAccount
	seq    atomic.Int64
	client *http.Client

	mu          sync.Mutex
	accepted    []acceptedJob
	tried       map[int]int // submits (distinct Idempotency-Keys) per account
	statuses    map[int]int // non-202 answers of submits, by status
	firstBody   map[int]string
	transport   int               // submits that got no answer
	cancels     int               // cancels answered 200
	topups      map[string]int64  // acknowledged top-ups: reason → amount
	paid        map[string]string // acknowledged hold payments: hold id → account id
	topupsTried map[string]bool
}

// The plans of the load's accounts: overage (people), dedup enrichment with
// a reject policy (local), per-item enrichment charged at submission and
// dedup downloads (enhance), and a big overage pool (products).
var faultPlans = [][]string{
	{"people-1k-99"},
	{"local-2k-49"},
	{"enhance-5k", "enhance-export-10k"},
	{"products-25k-249"},
}

// newFaultLoad creates the load's accounts.
func newFaultLoad(t *testing.T, fs *faultStack) *faultLoad {
	t.Helper()
	l := &faultLoad{fs: fs, t: t, tried: map[int]int{}, statuses: map[int]int{}, firstBody: map[int]string{}, topups: map[string]int64{}, paid: map[string]string{},
		topupsTried: map[string]bool{},
		client:      &http.Client{Timeout: 30 * time.Second}}
	for _, p := range faultPlans {
		id, key := fs.createAccount(t, p...)
		l.accts = append(l.accts, faultAccount{id: id, key: key, plans: p})
	}
	// Little enough that people jobs run into overage (and finance pays
	// their holds) and local jobs into 402s.
	fs.setAvailable(t, l.accts[0].id, l.accts[0].key, "people", 150)
	fs.setAvailable(t, l.accts[1].id, l.accts[1].key, "businesses", 400)
	return l
}

// spec returns the i-th job of the mix: its account, path and body.
func (l *faultLoad) spec(i int) (int, string, map[string]any) {
	formats := []string{"csv", "json", "jsonl"}
	f := formats[i%3]
	switch i % 8 {
	case 0:
		return 0, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 5 + i%20}
	case 1:
		return 0, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 5 + i%25, "format": f}
	case 2:
		// Overlapping ranges of the same ids: dedup charges each once.
		return 1, "/v1/enrichments", map[string]any{"data_type": "businesses", "match_on": []string{"id"},
			"items": enrichItems("biz", 1+(i*7)%150, 8, 5), "format": f}
	case 3:
		return 1, "/v1/downloads", map[string]any{"data_type": "businesses", "query": "*", "num_records": 10, "format": f}
	case 4:
		return 2, "/v1/enrichments", map[string]any{"data_type": "people", "match_on": []string{"id"},
			"items": enrichItems("per", 1+(i*11)%2000, 6, 4), "format": f}
	case 5:
		return 2, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 20, "format": f}
	case 6:
		return 3, "/v1/downloads", map[string]any{"data_type": "products", "query": "*", "num_records": 1 + i%60, "format": f}
	default:
		return 3, "/v1/searches", map[string]any{"data_type": "products", "query": "id:nothing_matches", "num_records": 15}
	}
}

// send makes one request with the load's client; it never fails the test.
func (l *faultLoad) send(method, path, key string, body any, idemKey string) (reply, error) {
	var hdr []string
	if idemKey != "" {
		hdr = []string{"Idempotency-Key", idemKey}
	}
	return l.fs.do(method, path, key, body, hdr...)
}

// retrying sends a keyed request until it gets an answer that is not a
// 5xx or a 409 of a key still pending, for at most limit: what a client
// does when a reply is lost. It returns the last reply.
func (l *faultLoad) retrying(method, path, key string, body any, idemKey string, limit time.Duration) (reply, error) {
	deadline := time.Now().Add(limit)
	for {
		r, err := l.send(method, path, key, body, idemKey)
		retry := err != nil || r.status >= 500 || r.status == http.StatusConflict && strings.Contains(string(r.body), "idempotency")
		if !retry || time.Now().After(deadline) {
			return r, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// submitOne submits job i (with its own Idempotency-Key, retried on a lost
// reply) and records the outcome; every fifth accepted job is canceled at
// once.
func (l *faultLoad) submitOne(i int) {
	acct, path, body := l.spec(i)
	a := l.accts[acct]
	l.mu.Lock()
	l.tried[acct]++
	l.mu.Unlock()
	// Past the minute a request that died mid-way holds its key, so that
	// the retry runs again if the first attempt left nothing.
	r, err := l.retrying("POST", path, a.key, body, fmt.Sprintf("job-%d", i), 75*time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.transport++
		return
	}
	if r.status != http.StatusAccepted {
		l.statuses[r.status]++
		if _, ok := l.firstBody[r.status]; !ok && r.status != http.StatusPaymentRequired {
			l.firstBody[r.status] = r.String()
		}
		return
	}
	var out struct {
		Job jobJSON `json:"job"`
	}
	if json.Unmarshal(r.body, &out) != nil || out.Job.ID == "" {
		l.statuses[-1]++
		return
	}
	l.accepted = append(l.accepted, acceptedJob{id: out.Job.ID, account: acct, path: path, at: time.Now()})
	if i%5 == 4 {
		l.mu.Unlock()
		c, err := l.send("DELETE", "/v1/jobs/"+out.Job.ID, a.key, nil, "")
		l.mu.Lock()
		if err == nil && c.status == http.StatusOK {
			l.cancels++
		}
	}
}

// topup gives account 0 a keyed top-up of 40 credits; an acknowledged one
// is recorded by its reason, which the journal keeps.
func (l *faultLoad) topup(n int) {
	reason := fmt.Sprintf("fault top-up %d", n)
	l.mu.Lock()
	l.topupsTried[reason] = true
	l.mu.Unlock()
	r, err := l.retrying("POST", "/v1/accounts/"+l.accts[0].id+"/credits", l.fs.admin,
		map[string]any{"pool": "people", "amount": 40, "reason": reason}, "topup-"+strconv.Itoa(n), 20*time.Second)
	if err == nil && r.status == http.StatusOK {
		l.mu.Lock()
		l.topups[reason] = 40
		l.mu.Unlock()
	}
}

// payHolds pays every unpaid hold finance can list, each payment keyed by
// its hold.
func (l *faultLoad) payHolds() {
	r, err := l.send("GET", "/v1/holds?status=unpaid&limit=100", l.fs.admin, nil, "")
	if err != nil || r.status != http.StatusOK {
		return
	}
	var page struct {
		Holds []struct {
			ID        string `json:"id"`
			AccountID string `json:"account_id"`
		} `json:"holds"`
	}
	if json.Unmarshal(r.body, &page) != nil {
		return
	}
	for _, h := range page.Holds {
		p, err := l.retrying("POST", "/v1/holds/"+h.ID+"/pay", l.fs.admin, map[string]any{"payment_ref": "inv_" + h.ID}, "pay-"+h.ID, 10*time.Second)
		if err == nil && p.status == http.StatusOK {
			l.mu.Lock()
			l.paid[h.ID] = h.AccountID
			l.mu.Unlock()
		}
	}
}

// run submits n jobs from clients goroutines, one every pace per
// goroutine, with a top-up every 25 jobs and finance paying holds every
// half second, and returns when all n have had their answer.
func (l *faultLoad) run(ctx context.Context, n, clients int, pace time.Duration) {
	var wg sync.WaitGroup
	finance, stopFinance := context.WithCancel(ctx)
	wg.Go(func() {
		for finance.Err() == nil {
			l.payHolds()
			select {
			case <-finance.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	var clientsWG sync.WaitGroup
	for range clients {
		clientsWG.Go(func() {
			for ctx.Err() == nil {
				i := int(l.seq.Add(1)) - 1
				if i >= n {
					return
				}
				l.submitOne(i)
				if i%25 == 24 {
					l.topup(i / 25)
				}
				time.Sleep(pace)
			}
		})
	}
	clientsWG.Wait()
	stopFinance()
	wg.Wait()
	l.payHolds()
}

// acceptedCount returns how many jobs were accepted so far.
func (l *faultLoad) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// faultReport is what a scenario measured.
type faultReport struct {
	name          string
	accepted      int
	faults        int
	ended         int
	notEnded      int   // accepted jobs still queued or running at the end
	jobsLost      int   // accepted jobs the API no longer knows
	creditsLost   int64 // held by ended jobs and never posted nor released
	creditsDouble int64 // posted more than once, or more than the job's cost
	ackLost       int   // acknowledged changes (jobs, top-ups, payments) not in the ledger
	creditAckLost int   // of those, credit changes: reservations, top-ups, payments
	ackDetail     []string
	dupJobs       int // jobs made twice by one keyed submit
	recover       time.Duration
	extra         []string
}

func (r *faultReport) String() string {
	s := fmt.Sprintf("FAULTS %s: jobs accepted %d, faults injected %d, jobs ended %d (not ended %d, lost %d), credits lost %d, credits double-charged %d, acknowledged changes lost %d (credit changes %d), duplicate jobs %d, time to recover %s",
		r.name, r.accepted, r.faults, r.ended, r.notEnded, r.jobsLost, r.creditsLost, r.creditsDouble, r.ackLost, r.creditAckLost, r.dupJobs, r.recover.Round(100*time.Millisecond))
	if len(r.extra) > 0 {
		s += "; " + strings.Join(r.extra, "; ")
	}
	return s
}

// waitAllEnded waits, for at most limit, until no job of any load account
// is queued or running, and returns how many still are.
func (l *faultLoad) waitAllEnded(limit time.Duration) int {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		open := 0
		for _, a := range l.accts {
			for _, st := range []string{"queued", "running"} {
				r, err := l.send("GET", "/v1/jobs?limit=500&status="+st, a.key, nil, "")
				if err != nil || r.status != http.StatusOK {
					open++ // no answer yet: not known to be done
					continue
				}
				var page struct {
					Jobs []jobJSON `json:"jobs"`
				}
				if json.Unmarshal(r.body, &page) == nil {
					open += len(page.Jobs)
				}
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return open
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// tryProbe measures recovery: it submits a small search every 200 ms until
// one is accepted, waits for that job to end, and returns the time from
// since, or an error when no probe job succeeds within limit. It is safe in
// any goroutine.
func (l *faultLoad) tryProbe(since time.Time, limit time.Duration) (time.Duration, error) {
	a := l.accts[3]
	deadline := time.Now().Add(limit)
	var last string
	for n := 0; time.Now().Before(deadline); n++ {
		r, err := l.send("POST", "/v1/searches", a.key, map[string]any{"data_type": "products", "query": "*", "num_records": 1},
			fmt.Sprintf("probe-%d-%d", since.UnixNano(), n))
		last = fmt.Sprint(r, err)
		var out struct {
			Job jobJSON `json:"job"`
		}
		if err != nil || r.status != http.StatusAccepted || json.Unmarshal(r.body, &out) != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for time.Now().Before(deadline) {
			g, err := l.send("GET", "/v1/jobs/"+out.Job.ID, a.key, nil, "")
			var j jobJSON
			if err == nil && g.status == http.StatusOK && json.Unmarshal(g.body, &j) == nil && ended(j.Status) {
				if j.Status != "succeeded" {
					return time.Since(since), fmt.Errorf("recovery probe %s ended %s: %s", j.ID, j.Status, j.Error)
				}
				return time.Since(since), nil
			}
			last = fmt.Sprint(g, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(since), fmt.Errorf("no probe job ran within %s of the fault's end (last: %s)", limit, last)
}

// durability is what a scenario's Redis promises about the changes the
// API acknowledged.
type durability int

const (
	// durableNone: changes may be lost (everysec, failover without WAIT);
	// the oracle counts and reports them, and what survived must be
	// consistent.
	durableNone durability = iota
	// durableCredits: every acknowledged credit change survives (WAIT for
	// replicas after each credit-changing script): a reservation, a
	// top-up, a payment.
	durableCredits
	// durableAll: every acknowledged change survives, accepted jobs too
	// (one server with appendfsync always).
	durableAll
)

// oracle checks the money once the load is over, fills the report's
// counts and logs the report. d says which acknowledged changes must have
// survived; whatever survived must be consistent in every case.
func (l *faultLoad) oracle(rep *faultReport, d durability, limit time.Duration) {
	t := l.t
	t.Helper()
	ctx := context.Background()
	waitStart := time.Now()
	open := l.openJobs()
	rep.notEnded = l.waitAllEnded(limit)
	rep.extra = append(rep.extra, fmt.Sprintf("jobs all ended %s after the load", time.Since(waitStart).Round(time.Second)))

	l.mu.Lock()
	accepted := append([]acceptedJob(nil), l.accepted...)
	rep.accepted = len(accepted)
	statuses := fmt.Sprint(l.statuses)
	for st, b := range l.firstBody {
		t.Logf("a submit answered %d, first: %s", st, b)
	}
	transport, cancels := l.transport, l.cancels
	topups := copyMap(l.topups)
	paid := copyMap(l.paid)
	l.mu.Unlock()
	// The jobs that had not ended when the load did: how each ended, and
	// whether the client had been told it was accepted.
	acc := map[string]bool{}
	for _, aj := range accepted {
		acc[aj.id] = true
	}
	for _, o := range open {
		if time.Since(waitStart) < 20*time.Second {
			break // they ended in the course of things
		}
		a := l.accts[o.account]
		if r, err := l.send("GET", "/v1/jobs/"+o.id, a.key, nil, ""); err == nil {
			var j jobJSON
			_ = json.Unmarshal(r.body, &j)
			t.Logf("  open at the load's end: job %s (%s, accepted %v) ended %s %q", o.id, o.path, acc[o.id], j.Status, j.Error)
		}
	}
	rep.extra = append(rep.extra, fmt.Sprintf("refused %s, unanswered %d, canceled %d, top-ups acked %d, holds paid %d",
		statuses, transport, cancels, len(topups), len(paid)))

	lg := ledger.New(l.fs.rdb, ledger.Options{})
	journals := make([][]credit.Entry, len(l.accts))
	for i, a := range l.accts {
		es, err := lg.JournalAll(ctx, a.id)
		if err != nil {
			t.Fatalf("journal of %s: %v", a.id, err)
		}
		journals[i] = es
	}
	byJob := map[string]*jobSums{}
	reasons := map[string]int{}
	paidEntries := map[string]int{}
	for _, es := range journals {
		for _, e := range es {
			if e.Reason != "" {
				reasons[e.Reason]++
			}
			if e.Type == credit.EntryHoldPaid {
				paidEntries[e.HoldID]++
			}
		}
		addJobSums(byJob, es)
	}
	for _, aj := range accepted {
		a := l.accts[aj.account]
		r, err := l.send("GET", "/v1/jobs/"+aj.id, a.key, nil, "")
		if err != nil {
			t.Errorf("job %s: %v", aj.id, err)
			continue
		}
		if r.status == http.StatusNotFound {
			rep.jobsLost++
			rep.ackLost++
			what := "its reservation survived (the reaper gives it back)"
			if s := byJob[aj.id]; s == nil || s.reserves+s.posts == 0 {
				rep.creditAckLost++
				what = "its reservation is gone too"
			}
			rep.ackDetail = append(rep.ackDetail, "job "+aj.id+" (202 at "+aj.at.Format("15:04:05.000")+") is gone; "+what)
			continue
		}
		var j jobJSON
		if r.status != http.StatusOK || json.Unmarshal(r.body, &j) != nil {
			t.Errorf("job %s: %s", aj.id, r)
			continue
		}
		if !ended(j.Status) {
			t.Errorf("accepted job %s (%s) is still %s", j.ID, aj.path, j.Status)
			continue
		}
		rep.ended++
		s := byJob[j.ID]
		if s == nil {
			s = &jobSums{}
		}
		// A reservation is journaled as a reserve, or as a post when the plan
		// charges at acceptance.
		if s.reserves == 0 && s.posts == 0 && j.CreditsReserved > 0 {
			rep.ackLost++
			rep.creditAckLost++
			rep.ackDetail = append(rep.ackDetail, fmt.Sprintf("job %s reserved %d, the journal has no reserve", j.ID, j.CreditsReserved))
		}
		if s.posts > 1 {
			rep.creditsDouble += s.post - s.post/s.posts
		}
		if c := s.charged(j); c > j.TotalCost {
			rep.creditsDouble += c - j.TotalCost
		}
		if s.reserves == 1 {
			if left := s.reserve - s.post - s.overage - s.release; left != 0 {
				// Credits still held by an ended job are lost to the customer;
				// released twice, they are lost to the vendor.
				rep.creditsLost += max(left, -left)
				t.Errorf("job %s (%s) ended %s: reserved %d, posted %d + overage %d, released %d",
					j.ID, aj.path, j.Status, s.reserve, s.post, s.overage, s.release)
			}
		}
	}
	for reason := range topups {
		switch reasons[reason] {
		case 0:
			rep.ackLost++
			rep.creditAckLost++
			rep.ackDetail = append(rep.ackDetail, "top-up "+reason+" is not in the journal")
		case 1:
		default:
			rep.creditsDouble += 40 * int64(reasons[reason]-1) // credits given twice
			t.Errorf("top-up %q is in the journal %d times", reason, reasons[reason])
		}
	}
	for hold := range paid {
		switch paidEntries[hold] {
		case 0:
			rep.ackLost++
			rep.creditAckLost++
			rep.ackDetail = append(rep.ackDetail, "payment of hold "+hold+" is not in the journal")
		case 1:
		default:
			t.Errorf("hold %s is paid %d times in the journal", hold, paidEntries[hold])
		}
	}
	l.mu.Lock()
	acceptedIDs := map[string]bool{}
	for _, aj := range l.accepted {
		acceptedIDs[aj.id] = true
	}
	l.mu.Unlock()
	// One submit, one job: a request retried with its Idempotency-Key after
	// a lost reply must not make a second job (and charge twice).
	for i, a := range l.accts {
		l.mu.Lock()
		tried := l.tried[i]
		l.mu.Unlock()
		if i == 3 {
			continue // the probes submit there too
		}
		// A submit answered 503 after its job was written (its task could
		// not be queued) leaves that job failed with nothing charged, at once
		// or, when marking it failed was refused too, by the reaper (which
		// refunds a charge posted at acceptance: the job keeps the
		// total_cost it was recorded with, and says it was refunded); its
		// client retries the same key. Such a job, never answered 202, is
		// the 503's, not a second job of the submit.
		jobs := 0
		for _, j := range l.fs.jobsOf(t, a.key, "") {
			if !acceptedIDs[j.ID] && j.Status == "failed" && (j.TotalCost == 0 || refunded(j)) {
				continue
			}
			jobs++
		}
		if jobs > tried {
			rep.dupJobs += jobs - tried
			t.Errorf("account %d has %d jobs from %d keyed submits: a retried submit made a second job", i, jobs, tried)
		}
	}

	t.Log(rep.String())
	for _, d := range rep.ackDetail {
		t.Logf("  %s", d)
	}
	if rep.notEnded > 0 {
		t.Errorf("%d jobs still queued or running after %s", rep.notEnded, limit)
	}
	if rep.creditsDouble != 0 {
		t.Errorf("%d credits double-charged", rep.creditsDouble)
	}
	switch {
	case d == durableAll && rep.ackLost > 0:
		t.Errorf("%d acknowledged changes lost", rep.ackLost)
	case d == durableCredits && rep.creditAckLost > 0:
		t.Errorf("%d acknowledged credit changes lost", rep.creditAckLost)
	}
	// Whatever survived is consistent: each account's journal replays to
	// its pools, and each ended job is settled exactly once (I2, I4).
	for _, a := range l.accts {
		l.fs.checkJournal(t, a.id, a.key)
	}
	l.fs.verifyLedger(t)
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// faultReaperGrace is the reaper's grace in the fault stacks
// (CREDITRUN_REAPER_GRACE): a job or reservation stranded by a fault, with
// its task archived or gone, is given back this long after it began rather
// than after the default 5 minutes, so that scenarios wait less for it.
const faultReaperGrace = 20 * time.Second

// endLimit is how long the oracle waits for every job to end after the
// load: a job whose reservation was voided while its record stayed open (a
// cancel or a failure cut by the fault between the two writes) ends only
// through the reaper, after its grace and within a minute of it (it runs
// every minute).
const endLimit = faultReaperGrace + 3*time.Minute

// verifyGrace is how long the audit lets a state that the reaper finishes
// last: the reaper's grace, plus two of its runs, so that what it is about
// to release is not reported as lost.
const verifyGrace = faultReaperGrace + 2*time.Minute

// verifyLedger audits the stack's ledger once the load is over and every
// job has ended: ledger.Verify (I1–I9 and the journal replay, each
// reservation against its job's record) must find no failure, and so must
// `creditrun ledger verify` (exit 0), the same audit from the command line.
// Each reports a stranded reservation only once the reaper has had its
// grace and two runs to release it.
func (fs *faultStack) verifyLedger(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	store := jobstore.New(fs.rdb, jobstore.Options{})
	rep, err := ledger.New(fs.rdb, ledger.Options{}).Verify(ctx, ledger.VerifyOptions{Jobs: store.LedgerJobs(), Grace: verifyGrace})
	switch {
	case err != nil:
		t.Errorf("ledger.Verify: %v", err)
	case !rep.OK:
		t.Errorf("ledger.Verify: %d failures over %d accounts", rep.FailureCount, rep.Accounts)
		for i, f := range rep.Failures {
			if i == 20 {
				break
			}
			t.Errorf("  %s", f)
		}
	default:
		t.Logf("ledger.Verify: %d accounts, no failure, %d warnings", rep.Accounts, rep.WarningCount)
	}

	cmd := exec.Command(binary(t), "ledger", "verify", "--grace", verifyGrace.String())
	cmd.Env = append(os.Environ(), "CREDITRUN_REDIS_URL="+fs.opts.redisURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("creditrun ledger verify: %v\n%s", err, tail(string(out), 40))
	}
}

// jitter returns d plus or minus up to a quarter of it.
func jitter(d time.Duration) time.Duration {
	q := int64(d / 4)
	if q <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*q)-q)
}

// openJobs returns the load accounts' jobs that are queued or running.
func (l *faultLoad) openJobs() []acceptedJob {
	var out []acceptedJob
	for i, a := range l.accts {
		for _, st := range []string{"queued", "running"} {
			r, err := l.send("GET", "/v1/jobs?limit=500&status="+st, a.key, nil, "")
			var page struct {
				Jobs []jobJSON `json:"jobs"`
			}
			if err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
				continue
			}
			for _, j := range page.Jobs {
				out = append(out, acceptedJob{id: j.ID, account: i, path: j.Kind + " " + st})
			}
		}
	}
	return out
}

// probeAsync runs probe in a goroutine, beside the rest of the load, and
// returns where its result comes. A probe that fails marks the test failed.
func (l *faultLoad) probeAsync(since time.Time, limit time.Duration) chan time.Duration {
	c := make(chan time.Duration, 1)
	go func() {
		defer close(c)
		d, err := l.tryProbe(since, limit)
		if err != nil {
			l.t.Error(err)
		}
		c <- d
	}()
	return c
}

// journalLens returns the length of every load account's journal, read
// from Redis.
func (l *faultLoad) journalLens(t *testing.T) map[string]int {
	t.Helper()
	lg := ledger.New(l.fs.rdb, ledger.Options{})
	out := map[string]int{}
	for _, a := range l.accts {
		es, err := lg.JournalAll(context.Background(), a.id)
		if err != nil {
			t.Fatalf("journal of %s: %v", a.id, err)
		}
		out[a.id] = len(es)
	}
	return out
}

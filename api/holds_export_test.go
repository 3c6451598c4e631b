package api_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// commandCount is a go-redis hook that counts the commands sent, one by
// one or in pipelines.
type commandCount struct{ n atomic.Int64 }

func (c *commandCount) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// exportEnv is an API whose ledger runs on a clock the test sets, so that
// the holds it opens (ids from job ids, times from the clock) are the same
// on every run.
type exportEnv struct {
	*env
	now    time.Time
	ledger *ledger.Redis
	fin    string
}

func newExportEnv(t *testing.T) *exportEnv {
	t.Helper()
	x := &exportEnv{now: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)}
	x.env = newEnv(t, func(cfg *api.Config) {
		x.ledger = ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix, NowFunc: func() time.Time { return x.now }})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		cfg.Ledger = x.ledger
		cfg.Jobs = jobs.NewService(jobs.Config{Ledger: x.ledger, Store: js, Queue: &jobstest.Queue{}, Accounts: js, Catalog: plan.Builtin()})
	})
	x.env.ledger = x.ledger
	x.fin = x.financeKey(t)
	start := x.now.AddDate(0, 0, -1)
	for _, a := range []string{"acme", "globex"} {
		cfg := credit.PoolConfig{Name: "people", Grant: 0, OverageEnabled: true, OverageLimit: 1_000_000, OveragePriceCents: 7}
		if _, _, err := x.ledger.OpenPool(ctx, a, cfg, start, start.AddDate(0, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// hold opens a hold of credits overage on a job of the account, a
// millisecond after the last one.
func (x *exportEnv) hold(t *testing.T, account, job string, credits int64) string {
	t.Helper()
	x.now = x.now.Add(time.Millisecond)
	if _, err := x.ledger.Reserve(ctx, credit.ReserveRequest{Account: account, Pool: "people", JobID: job, Requested: credits, Policy: credit.Overage}); err != nil {
		t.Fatal(err)
	}
	r, err := x.ledger.Settle(ctx, credit.SettleRequest{Account: account, Pool: "people", JobID: job, Cost: credits})
	if err != nil || r.HoldID == "" {
		t.Fatalf("settle %s: hold %q, %v", job, r.HoldID, err)
	}
	return r.HoldID
}

func (x *exportEnv) export(t *testing.T, query string) []byte {
	t.Helper()
	r := x.do(t, req{method: "GET", path: "/v1/holds.csv" + query, key: x.fin})
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/holds.csv%s: %d %s", query, r.status, r.body)
	}
	return r.body
}

// TestHoldsCSVGolden exports a fixed set of holds (paid, waived, unpaid, of
// two accounts, with text a spreadsheet would take for a formula) and
// compares the bytes with those the export wrote before it streamed.
func TestHoldsCSVGolden(t *testing.T) {
	x := newExportEnv(t)
	var ids []string
	for i := range 12 {
		a := []string{"acme", "globex"}[i%2]
		ids = append(ids, x.hold(t, a, fmt.Sprintf("job_%02d", i), int64(i+1)))
	}
	x.now = x.now.Add(time.Minute)
	for i, ref := range map[int]string{1: "inv-001", 4: "=HYPERLINK(\"x\")", 7: "wire, \"march\""} {
		if _, err := x.ledger.PayHold(ctx, ids[i], ref); err != nil {
			t.Fatal(err)
		}
	}
	for i, reason := range map[int]string{2: "goodwill, once", 9: "+credit note\nline two"} {
		if _, err := x.ledger.WaiveHold(ctx, ids[i], reason); err != nil {
			t.Fatal(err)
		}
	}
	var all []byte
	for _, query := range []string{"", "?status=unpaid", "?status=paid", "?account=acme", "?status=waived&account=globex"} {
		all = append(all, "# GET /v1/holds.csv"+query+"\n"...)
		all = append(all, x.export(t, query)...)
	}
	const golden = "testdata/holds_export.golden.csv"
	if *updateGolden {
		if err := os.WriteFile(golden, all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(all) != string(want) {
		t.Errorf("the export differs from %s:\n%s", golden, all)
	}
	x.checkInvariants(t, "acme")
	x.checkInvariants(t, "globex")
}

// TestHoldsCSVReadsLinear exports N holds and then 2N: the Redis commands
// of the export at most double (one pass over the holds), where reading the
// holds again for every page of 1,000 made them grow with N².
func TestHoldsCSVReadsLinear(t *testing.T) {
	x := newExportEnv(t)
	count := &commandCount{}
	x.client.AddHook(count)
	const n = 1200
	measure := func(from, to int) (int64, int) {
		for i := from; i < to; i++ {
			x.hold(t, []string{"acme", "globex"}[i%2], fmt.Sprintf("job_%05d", i), 1)
		}
		before := count.n.Load()
		body := x.export(t, "")
		lines := 0
		for _, b := range body {
			if b == '\n' {
				lines++
			}
		}
		return count.n.Load() - before, lines - 1
	}
	c1, rows1 := measure(0, n)
	c2, rows2 := measure(n, 2*n)
	if rows1 != n || rows2 != 2*n {
		t.Fatalf("the exports have %d and %d rows, want %d and %d", rows1, rows2, n, 2*n)
	}
	// The key lookup and the rate of the request cost a few commands each
	// time; the holds, one read each.
	if c2 > 2*c1+20 {
		t.Errorf("the export of %d holds sent %d commands, of %d holds %d: more than twice as many", n, c1, 2*n, c2)
	}
	t.Logf("%d holds: %d commands; %d holds: %d commands", n, c1, 2*n, c2)
	x.checkInvariants(t, "acme")
	x.checkInvariants(t, "globex")
}

package ledger_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/toxiproxy"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// lostReplies is a ledger that talks to the shared redis-server through a
// toxiproxy proxy, with a ReplyCutter on its client: go-redis retries a
// command whose reply was lost (MaxRetries 3), so a script that is not safe
// to repeat runs four times.
type lostReplies struct {
	l      *ledger.Redis
	cutter *toxiproxy.ReplyCutter
}

func newLostReplies(t *testing.T) *lostReplies {
	t.Helper()
	proxy := toxiproxy.T(t).ProxyT(t, "redis", server.Addr())
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: 3, Protocol: 2, DisableIdentity: true,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	cutter := toxiproxy.NewReplyCutter(proxy)
	c.AddHook(cutter)
	return &lostReplies{l: ledger.New(c, ledger.Options{Prefix: lostPrefix(t)}), cutter: cutter}
}

// lostPrefix is a key prefix of the test's own, new on every run, for tests
// that share the redis-server and may run with -count.
func lostPrefix(t *testing.T) string {
	return "lost" + strings.ReplaceAll(t.Name(), "/", "_") + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// cutScript loses the replies of the next script whose keys include one
// ending in suffix, and fails the test unless exactly that call was cut.
func (lr *lostReplies) cutScript(t *testing.T, suffix string, call func() error) error {
	t.Helper()
	before, _ := lr.cutter.Cut()
	lr.cutter.Arm(func(cmd redis.Cmder) bool {
		for _, k := range toxiproxy.ScriptKeys(cmd) {
			if strings.HasSuffix(k, suffix) {
				return true
			}
		}
		return false
	})
	err := call()
	after, perr := lr.cutter.Cut()
	if perr != nil {
		t.Fatal(perr)
	}
	if after != before+1 {
		t.Fatalf("no script with a key ending in %q was cut", suffix)
	}
	return err
}

// TestLostReplyTopUp: a top-up whose every reply was lost, retried by
// go-redis and then by its caller with the same key, adds its credits once.
func TestLostReplyTopUp(t *testing.T) {
	t.Parallel()
	lr := newLostReplies(t)
	a := "acme"
	start := time.Now()
	if _, _, err := lr.l.OpenPool(context.Background(), a, credit.PoolConfig{Name: "people", Grant: 101}, start, start.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lr.l.TopUp(ctx, a, "people", 1, "warm the script", ""); err != nil {
		t.Fatal(err)
	}
	err := lr.cutScript(t, ":op:req-1", func() error {
		_, err := lr.l.TopUp(ctx, a, "people", 1000, "bought a pack", "req-1")
		return err
	})
	if err == nil {
		t.Fatal("a top-up whose every reply was lost reported success")
	}
	p, err := lr.l.TopUp(ctx, a, "people", 1000, "bought a pack", "req-1") // the caller's retry
	if err != nil {
		t.Fatal(err)
	}
	if p.Allocated != 1102 {
		t.Fatalf("allocated %d after a top-up of 1000 on 102, want 1102", p.Allocated)
	}
	ledgertest.CheckAccount(t, lr.l, a)
}

// TestLostReplyMoneyScripts: every script that moves credits, its every
// reply lost and retried by go-redis, moves them once.
func TestLostReplyMoneyScripts(t *testing.T) {
	t.Parallel()
	lr := newLostReplies(t)
	ctx := context.Background()
	a := "acme"
	start := time.Now()
	cfg := credit.PoolConfig{Name: "people", Grant: 100, OverageEnabled: true, OverageLimit: 50, OveragePriceCents: 10}
	if _, _, err := lr.l.OpenPool(ctx, a, cfg, start, start.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// Warm each script, so that no retry falls back to EVAL.
	warm := credit.ReserveRequest{Account: a, Pool: "people", JobID: "warm", Requested: 1, Policy: credit.Reject}
	if _, err := lr.l.Reserve(ctx, warm); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "warm", Cost: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.l.Refund(ctx, a, "warm", "warm the script"); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "warm2", Requested: 1, Policy: credit.Reject}); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.l.Void(ctx, a, "people", "warm2", "warm the script"); err != nil {
		t.Fatal(err)
	}

	// Reserve 120 (100 prepaid, 20 overage) with every reply lost: the
	// reservation stands once, and the caller's retry finds it.
	req := credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 120, Policy: credit.Overage}
	if err := lr.cutScript(t, ":res:j1", func() error { _, err := lr.l.Reserve(ctx, req); return err }); err == nil {
		t.Fatal("a reserve whose every reply was lost reported success")
	}
	if r, err := lr.l.Reserve(ctx, req); err != nil || r.Prepaid != 100 || r.Overage != 20 {
		t.Fatalf("reserve again: %+v %v", r, err)
	}
	want := credit.Counts{Allocated: 100, Reserved: 100, OverageReserved: 20}
	if p, _ := lr.l.Pool(ctx, a, "people"); p.Counts != want {
		t.Fatalf("after the lost reserve %+v, want %+v", p.Counts, want)
	}
	// Settle 110 with every reply lost: posted once.
	settle := credit.SettleRequest{Account: a, Pool: "people", JobID: "j1", Cost: 110}
	if err := lr.cutScript(t, ":res:j1", func() error { _, err := lr.l.Settle(ctx, settle); return err }); err == nil {
		t.Fatal("a settle whose every reply was lost reported success")
	}
	want = credit.Counts{Allocated: 100, Used: 100, OverageOutstanding: 10}
	if p, _ := lr.l.Pool(ctx, a, "people"); p.Counts != want {
		t.Fatalf("after the lost settle %+v, want %+v", p.Counts, want)
	}
	// Refund with every reply lost: given back once, the hold waived once.
	if err := lr.cutScript(t, ":res:j1", func() error { _, err := lr.l.Refund(ctx, a, "j1", "abandoned"); return err }); err == nil {
		t.Fatal("a refund whose every reply was lost reported success")
	}
	if r, err := lr.l.Refund(ctx, a, "j1", "abandoned"); err != nil || r.State != credit.Refunded || r.Refunded != 110 {
		t.Fatalf("refund again: %+v %v", r, err)
	}
	want = credit.Counts{Allocated: 100}
	if p, _ := lr.l.Pool(ctx, a, "people"); p.Counts != want {
		t.Fatalf("after the lost refund %+v, want %+v", p.Counts, want)
	}
	// Void with every reply lost: released once.
	if _, err := lr.l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j2", Requested: 30, Policy: credit.Reject}); err != nil {
		t.Fatal(err)
	}
	if err := lr.cutScript(t, ":res:j2", func() error { _, err := lr.l.Void(ctx, a, "people", "j2", "canceled"); return err }); err == nil {
		t.Fatal("a void whose every reply was lost reported success")
	}
	if p, _ := lr.l.Pool(ctx, a, "people"); p.Counts != want {
		t.Fatalf("after the lost void %+v, want %+v", p.Counts, want)
	}
	ledgertest.CheckAccount(t, lr.l, a)
}

// TestLostReplyRefresh: a refresh batch whose replies were lost once, and
// which go-redis resent, starts each period once and still reports each as
// applied, so that a sweep counts what it did.
func TestLostReplyRefresh(t *testing.T) {
	t.Parallel()
	proxy := toxiproxy.T(t).ProxyT(t, "redis", server.Addr())
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: 3, Protocol: 2, DisableIdentity: true, PoolSize: 1,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	cutter := toxiproxy.NewReplyCutter(proxy)
	c.AddHook(cutter)
	l := ledger.New(c, ledger.Options{Prefix: lostPrefix(t)})

	ctx := context.Background()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	accounts := []string{"acme", "globex", "initech"}
	items := make([]ledger.RefreshItem, len(accounts))
	for i, a := range accounts {
		if _, _, err := l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 100}, start, end); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 30, Policy: credit.Reject}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "j", Cost: 30}); err != nil {
			t.Fatal(err)
		}
		items[i] = ledger.RefreshItem{Account: a, Pool: "people", Start: end, End: end.AddDate(0, 1, 0)}
	}
	// Warm the script, so that the batch is not answered NOSCRIPT.
	if _, _, err := l.Refresh(ctx, accounts[0], "people", start, end); err != nil {
		t.Fatal(err)
	}
	cutter.ArmPipelineOnce(func(cmds []redis.Cmder) bool { return len(toxiproxy.ScriptKeys(cmds[0])) > 0 })
	results, err := l.RefreshBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if n, perr := cutter.Cut(); n != 1 || perr != nil {
		t.Fatalf("%d pipelines cut, %v; want the refresh batch's", n, perr)
	}
	for i, res := range results {
		if res.Err != nil || !res.Applied || res.Pool.Used != 0 || !res.Pool.PeriodStart.Equal(end) {
			t.Errorf("%s: %+v, want applied, used 0, the period from %s", accounts[i], res, end)
		}
	}
	// Another batch for the same period applies nothing, and says so.
	again, err := l.RefreshBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range again {
		if res.Err != nil || res.Applied {
			t.Errorf("%s refreshed again: %+v, want not applied", accounts[i], res)
		}
	}
	for _, a := range accounts {
		ledgertest.CheckAccount(t, l, a)
	}
}

// TestLostReplyGrants: a grant added, and one voided, with every reply lost
// and retried by go-redis and then by the caller, each move credits once.
func TestLostReplyGrants(t *testing.T) {
	t.Parallel()
	lr := newLostReplies(t)
	ctx := context.Background()
	a := "acme"
	start := time.Now()
	if _, _, err := lr.l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 10}, start, start.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// Warm the scripts, so that no retry falls back to EVAL.
	if _, _, err := lr.l.AddGrant(ctx, credit.GrantRequest{Account: a, Pool: "people", ID: "grant_warm", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.l.VoidGrant(ctx, a, "grant_warm", "warm the script"); err != nil {
		t.Fatal(err)
	}

	req := credit.GrantRequest{Account: a, Pool: "people", ID: credit.GrantIDFor(a, "req-1"), Amount: 50, Reason: "pack"}
	err := lr.cutScript(t, ":grants", func() error {
		_, _, err := lr.l.AddGrant(ctx, req)
		return err
	})
	if err == nil {
		t.Fatal("a grant whose every reply was lost reported success")
	}
	g, created, err := lr.l.AddGrant(ctx, req) // the caller's retry
	if err != nil || created || g.Remaining != 50 {
		t.Fatalf("the retry: %+v, created %v, %v", g, created, err)
	}
	p, err := lr.l.Pool(ctx, a, "people")
	if err != nil || p.GrantsAvailable != 50 || p.Available() != 60 {
		t.Fatalf("after a grant of 50 on 10: %+v, %v", p.Counts, err)
	}

	if _, err := lr.l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 30, Policy: credit.Reject}); err != nil {
		t.Fatal(err)
	}
	err = lr.cutScript(t, ":grants", func() error {
		_, err := lr.l.VoidGrant(ctx, a, g.ID, "refunded")
		return err
	})
	if err == nil {
		t.Fatal("a void whose every reply was lost reported success")
	}
	v, err := lr.l.VoidGrant(ctx, a, g.ID, "refunded")
	if err != nil || v.Status != credit.GrantVoided || v.Remaining != 20 || v.Held != 20 {
		t.Fatalf("the retried void: %+v, %v", v, err)
	}
	entries, err := lr.l.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	voided, added := 0, 0
	for _, e := range entries {
		switch {
		case e.Type == credit.EntryGrantVoided && e.GrantID == g.ID:
			voided++
		case e.Type == credit.EntryGrantAdded && e.GrantID == g.ID:
			added++
		}
	}
	if voided != 1 || added != 1 {
		t.Fatalf("journal: grant %s added %d times, voided %d times", g.ID, added, voided)
	}
	ledgertest.CheckAccount(t, lr.l, a)
}

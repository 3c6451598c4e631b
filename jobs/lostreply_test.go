package jobs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/toxiproxy"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// lostFixture is a service whose Redis client goes through a toxiproxy
// proxy with a ReplyCutter: the script it is armed for runs on Redis and
// its reply is lost, with go-redis's retries (MaxRetries 3).
type lostFixture struct {
	*fixture
	cutter *toxiproxy.ReplyCutter
}

// Its jobs are named job_warm, then id: each test first submits job_warm
// uncut, so that Redis knows every script before one is cut (a cut
// NOSCRIPT reply would keep go-redis from sending the script at all).
func newLostFixture(t *testing.T, id string) *lostFixture {
	t.Helper()
	proxy := toxiproxy.T(t).ProxyT(t, "redis", server.Addr())
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: 3,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	cutter := toxiproxy.NewReplyCutter(proxy)
	c.AddHook(cutter)
	f := newFixtureOn(t, c, func(cfg *jobs.Config) {
		next := "job_warm"
		cfg.NewIDFunc = func() string {
			defer func() { next = id }()
			return next
		}
	})
	return &lostFixture{fixture: f, cutter: cutter}
}

// cut arms the cutter for the next script one of whose keys ends in
// suffix, runs call, and fails the test unless that script was cut.
func (f *lostFixture) cut(t *testing.T, suffix string, call func()) {
	t.Helper()
	before, _ := f.cutter.Cut()
	f.cutter.Arm(func(cmd redis.Cmder) bool {
		for _, k := range toxiproxy.ScriptKeys(cmd) {
			if strings.HasSuffix(k, suffix) {
				return true
			}
		}
		return false
	})
	call()
	after, err := f.cutter.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Fatalf("no script with a key ending in %q ran", suffix)
	}
}

// refunds counts the refund entries of a job in an account's journal.
func (f *lostFixture) refunds(t *testing.T, account, job string) int {
	t.Helper()
	entries, err := f.l.JournalAll(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Type == credit.EntryRefund && e.JobID == job {
			n++
		}
	}
	return n
}

var (
	twoProducts = jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"},
		Items: []map[string]any{{"name": "a"}, {"name": "b"}}}
	oneProduct = jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"},
		Items: []map[string]any{{"name": "w"}}}
)

// warm submits job_warm, uncut.
func (f *lostFixture) warm(t *testing.T, account string, spec jobs.Spec) {
	t.Helper()
	if _, err := f.svc.Submit(ctx, account, spec); err != nil {
		t.Fatal(err)
	}
}

// TestLostReplyJobRecord: the job record of a charge at acceptance is written
// but its reply lost. The submit fails, refunds, and marks the record it may
// have written failed, so the client is not shown a queued job; the reaper,
// finishing the charge, refunds again; the charge comes back once.
func TestLostReplyJobRecord(t *testing.T) {
	t.Parallel()
	f := newLostFixture(t, "job_lost_record")
	a := f.account(t, "enhance-4")
	f.warm(t, a, oneProduct)
	f.cut(t, ":job:job_lost_record", func() {
		if _, err := f.svc.Submit(ctx, a, twoProducts); err == nil {
			t.Fatal("a submit whose job record's reply was lost succeeded")
		}
	})
	if got := f.available(t, a, "enhancement"); got != 3 {
		t.Fatalf("available %d after the failed submit, want 3", got)
	}
	j, err := f.svc.Get(ctx, a, "job_lost_record")
	if err != nil || j.Status != jobs.Failed || j.Error != "The job could not be recorded; nothing was charged." {
		t.Fatalf("the job as the failed submit left it: %+v, %v", j, err)
	}
	// The reaper: a failed job's charge at acceptance that does not stand.
	if _, err := f.svc.Abandon(ctx, a, j.ID, "The job could not run: its task was lost."); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("abandon of the failed job: %v, want ErrEnded", err)
	}
	if _, err := f.svc.FinishCharge(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.available(t, a, "enhancement"); got != 3 {
		t.Fatalf("available %d after the reaper, want 3: refunded twice", got)
	}
	if n := f.refunds(t, a, j.ID); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	f.checkInvariants(t, a)
}

// TestLostReplyAcceptance: the reply of a charge at acceptance is lost after
// every retry, so the submit fails with no job recorded; it refunds the
// charge by the job id it made, once.
func TestLostReplyAcceptance(t *testing.T) {
	t.Parallel()
	f := newLostFixture(t, "job_lost_charge")
	a := f.account(t, "enhance-4")
	f.warm(t, a, oneProduct)
	f.cut(t, ":res:job_lost_charge", func() {
		if _, err := f.svc.Submit(ctx, a, twoProducts); err == nil {
			t.Fatal("a submit whose charge's reply was lost succeeded")
		}
	})
	if got := f.available(t, a, "enhancement"); got != 3 {
		t.Fatalf("available %d after the failed submit, want 3", got)
	}
	if n := f.refunds(t, a, "job_lost_charge"); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	if refunded, err := f.svc.FinishCharge(ctx, a, "job_lost_charge"); err != nil || refunded {
		t.Fatalf("FinishCharge after the submit's own refund: refunded %v, %v", refunded, err)
	}
	f.checkInvariants(t, a)
}

// TestChargeNeverRecorded: the API died between a charge at acceptance and
// its job record (here: the ledger charged, and nothing else ran). The
// charge is in the ledger's charges set, where the reaper finds it and
// refunds it, once.
func TestChargeNeverRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "enhance-4")
	req := credit.ReserveRequest{Account: a, Pool: "enhancement", JobID: "job_orphan", Requested: 2,
		ItemIDs: []string{"", ""}, Policy: credit.Partial, ChargeAtAcceptance: true}
	if _, err := f.l.Reserve(ctx, req); err != nil {
		t.Fatal(err)
	}
	var marked []string
	for r, err := range f.l.OldCharges(ctx, time.Now().Add(time.Minute)) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Account == a {
			marked = append(marked, r.JobID)
		}
	}
	if len(marked) != 1 || marked[0] != "job_orphan" {
		t.Fatalf("charges the reaper finds: %v, want job_orphan", marked)
	}
	refunded, err := f.svc.FinishCharge(ctx, a, "job_orphan")
	if err != nil || !refunded {
		t.Fatalf("FinishCharge: refunded %v, %v", refunded, err)
	}
	if refunded, err := f.svc.FinishCharge(ctx, a, "job_orphan"); err != nil || refunded {
		t.Fatalf("FinishCharge again: refunded %v, %v", refunded, err)
	}
	if got := f.available(t, a, "enhancement"); got != 4 {
		t.Fatalf("available %d after the reaper, want 4", got)
	}
	f.checkInvariants(t, a)
}

// TestLostReplyAbandon: the reaper abandons a job its worker settled and died
// before recording; the reply of the mark that fails the job is lost. The
// abandon fails, leaving its mark; the reaper's next pass refunds the job,
// once.
func TestLostReplyAbandon(t *testing.T) {
	t.Parallel()
	f := newLostFixture(t, "job_lost_mark")
	a := f.account(t, "people-10")
	f.warm(t, a, search(1))
	if _, err := f.svc.Cancel(ctx, a, "job_warm"); err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "*", NumRecords: 12, OnInsufficient: credit.Overage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: j.ID, Cost: 12}); err != nil {
		t.Fatal(err)
	}
	f.cut(t, ":job:"+j.ID, func() {
		if _, err := f.svc.Abandon(ctx, a, j.ID, "The job could not run: its task was lost."); err == nil {
			t.Fatal("an abandon whose mark's reply was lost succeeded")
		}
	})
	failed, err := f.svc.Get(ctx, a, j.ID)
	if err != nil || failed.Status != jobs.Failed {
		t.Fatalf("the job after the lost mark: %+v, %v", failed, err)
	}
	refunded, err := f.svc.FinishCharge(ctx, a, j.ID)
	if err != nil || !refunded {
		t.Fatalf("FinishCharge: refunded %v, %v", refunded, err)
	}
	if got := f.available(t, a, "people"); got != 10 {
		t.Fatalf("available %d after the refund, want 10", got)
	}
	if p, _ := f.l.Pool(ctx, a, "people"); p.OverageOutstanding != 0 {
		t.Fatalf("overage outstanding %d after the refund, want 0", p.OverageOutstanding)
	}
	if n := f.refunds(t, a, j.ID); n != 1 {
		t.Fatalf("%d refund entries, want 1", n)
	}
	f.checkInvariants(t, a)
}

// TestAfterRefund: a job whose charge was refunded while it still ran (a
// second reaper's abandon, a job recorded after the reaper took it for never
// recorded) can be neither canceled, failed nor completed into moving
// credits again: each answers ErrEnded, and the refund stands.
func TestAfterRefund(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10", "enhance-4")

	j, err := f.svc.Submit(ctx, a, search(6))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: j.ID, Cost: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Refund(ctx, a, j.ID, "abandoned by another reaper"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(ctx, a, j.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("cancel after the refund: %v, want ErrEnded", err)
	}
	if _, err := f.svc.Fail(ctx, a, j.ID, "The source was down."); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("fail after the refund: %v, want ErrEnded", err)
	}
	if _, err := f.svc.Complete(ctx, a, j.ID, jobs.Outcome{Found: 6, Delivered: 6}); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("complete after the refund: %v, want ErrEnded", err)
	}
	if got := f.available(t, a, "people"); got != 10 {
		t.Errorf("people available %d, want 10: the refund must stand", got)
	}

	acc, err := f.svc.Submit(ctx, a, twoProducts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Refund(ctx, a, acc.ID, "The job was never recorded."); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, acc.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(ctx, a, acc.ID, jobs.Outcome{Found: 2, Delivered: 2}); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("complete of a refunded charge at acceptance: %v, want ErrEnded", err)
	}
	if got := f.available(t, a, "enhancement"); got != 4 {
		t.Errorf("enhancement available %d, want 4", got)
	}
	f.checkInvariants(t, a)
}

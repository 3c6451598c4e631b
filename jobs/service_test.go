package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
)

var server *redisserver.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = redisserver.Start(redisserver.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "jobs tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

type fixture struct {
	svc   *jobs.Service
	l     *ledger.Redis
	queue *jobstest.Queue
}

var ctx = context.Background()

const testPlans = `
plans:
  people-10:
    pool: people
    data_types: [people]
    operations: [search, download]
    credits: 10
    refresh: "@monthly"
    on_insufficient: reject
    overage: {enabled: true, limit: 5, price_cents: 10}
  local-3:
    pool: businesses
    data_types: [businesses]
    operations: [search, enrichment]
    credits: 3
    refresh: "@monthly"
    on_insufficient: partial
    dedup: [enrichment]
  enhance-4:
    pool: enhancement
    data_types: [products]
    operations: [enrichment]
    credits: 4
    refresh: "@monthly"
    on_insufficient: partial
    enrichment_charge: submitted
  match-5:
    pool: matches
    data_types: [products]
    operations: [enrichment]
    credits: 5
    refresh: "@monthly"
    on_insufficient: reject
  overlap:
    pool: other
    data_types: [people]
    operations: [search]
    credits: 1
    refresh: "@monthly"
`

// newFixture builds the service on a fresh key prefix; opts may change its
// config before it is built.
func newFixture(t *testing.T, opts ...func(*jobs.Config)) *fixture {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	return newFixtureOn(t, c, opts...)
}

// newFixtureOn builds the service as newFixture does, on client c.
func newFixtureOn(t *testing.T, c redis.UniversalClient, opts ...func(*jobs.Config)) *fixture {
	t.Helper()
	prefix := fmt.Sprintf("t%d", time.Now().UnixNano())
	catalog, err := plan.Parse([]byte(testPlans))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(c, ledger.Options{Prefix: prefix})
	store := jobstore.New(c, jobstore.Options{Prefix: prefix})
	q := &jobstest.Queue{}
	cfg := jobs.Config{Ledger: l, Store: store, Queue: q, Accounts: store, Catalog: catalog,
		Recorder:  jobstore.Recorder{Ledger: l, Store: store},
		DataTypes: func(dt string) bool { return dt == "people" || dt == "businesses" || dt == "products" }}
	for _, o := range opts {
		o(&cfg)
	}
	return &fixture{svc: jobs.NewService(cfg), l: l, queue: q}
}

func (f *fixture) account(t *testing.T, plans ...string) string {
	t.Helper()
	a, err := f.svc.CreateAccount(ctx, "", "Acme", plans)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// checkInvariants asserts I1 on every pool and that the journal replays to
// the pools (I4).
func (f *fixture) checkInvariants(t *testing.T, account string) {
	t.Helper()
	ledgertest.CheckAccount(t, f.l, account)
}

func (f *fixture) available(t *testing.T, account, pool string) int64 {
	t.Helper()
	p, err := f.l.Pool(ctx, account, pool)
	if err != nil {
		t.Fatal(err)
	}
	return p.Available()
}

func search(n int64) jobs.Spec {
	return jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "city:Austin", NumRecords: n}
}

func TestSubmitSearchAndComplete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	j, err := f.svc.Submit(ctx, a, search(10))
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != jobs.Queued || j.NumRecords != 10 || j.CreditsReserved != 10 || j.Meta.CreditsRemaining != 0 || j.Meta.Partial {
		t.Fatalf("submitted %+v", j)
	}
	if len(f.queue.Enqueued()) != 1 || f.queue.Enqueued()[0] != j.ID {
		t.Fatalf("enqueued %v", f.queue.Enqueued())
	}
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	// Matched 1 of 10: costs 1, releases 9.
	done, err := f.svc.Complete(ctx, a, j.ID, jobs.Outcome{Found: 1, Delivered: 1, Records: []byte(`[{"id":"p1"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != jobs.Succeeded || done.TotalCost != 1 || done.CreditsReleased != 9 || done.NumFound != 1 || done.FinishedAt == nil {
		t.Fatalf("completed %+v", done)
	}
	if got := f.available(t, a, "people"); got != 9 {
		t.Fatalf("available %d", got)
	}
	// A redelivery settles nothing twice.
	if _, err := f.svc.Start(ctx, a, j.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("start after success: %v", err)
	}
	if _, err := f.svc.Complete(ctx, a, j.ID, jobs.Outcome{Delivered: 5}); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("complete twice: %v", err)
	}
	if got := f.available(t, a, "people"); got != 9 {
		t.Fatalf("available after redelivery %d", got)
	}
	f.checkInvariants(t, a)
}

func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	if _, err := f.svc.Submit(ctx, a, search(5)); err != nil {
		t.Fatal(err)
	}
	// Reject plan, 5 available, 8 asked with reject.
	_, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 8, OnInsufficient: credit.Reject})
	ie, ok := errors.AsType[*credit.InsufficientError](err)
	if !ok || ie.Error() != "Not enough credits. Required: 8, Available: 5" {
		t.Fatalf("reject: %v", err)
	}
	// Overage beyond the limit: 5 + 5 headroom < 11.
	_, err = f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 11, OnInsufficient: credit.Overage})
	if ie, ok := errors.AsType[*credit.InsufficientError](err); !ok || ie.Available != 10 {
		t.Fatalf("overage beyond: %v", err)
	}
	if _, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "businesses", NumRecords: 1}); !errors.Is(err, jobs.ErrNotInPlan) {
		t.Fatalf("not in plan: %v", err)
	}
	if _, err := f.svc.Submit(ctx, "nobody", search(1)); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 0}); !errors.Is(err, jobs.ErrInvalidSpec) {
		t.Fatalf("bad spec: %v", err)
	}
	if got := f.available(t, a, "people"); got != 5 {
		t.Fatalf("refusals reserved something: available %d", got)
	}
	if len(f.queue.Enqueued()) != 1 {
		t.Fatalf("refusals enqueued: %v", f.queue.Enqueued())
	}
	f.checkInvariants(t, a)
}

func TestPartialEnrichment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "local-3")
	items := make([]map[string]any, 10)
	for i := range items {
		items[i] = map[string]any{"tracking_id": fmt.Sprintf("t%d", i), "name": fmt.Sprintf("Shop %d", i)}
	}
	j, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"name"}, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	m := j.Meta
	if m.Requested != 10 || m.Processed != 3 || !m.Partial || m.PartialReason != "Only 3 credits remaining, but 10 requested" ||
		m.CreditsRemaining != 0 || len(m.TrackingIDToJobID) != 3 || m.TrackingIDToJobID["t2"] != j.ID || m.TrackingIDToJobID["t3"] != "" {
		t.Fatalf("meta %+v", m)
	}
	kept, err := f.svc.Items(ctx, a, j.ID)
	if err != nil || len(kept) != 3 || kept[2]["tracking_id"] != "t2" {
		t.Fatalf("items %v, %v", kept, err)
	}
	// Zero left: 402.
	if _, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"name"}, Items: items[:1]}); err == nil {
		t.Fatal("enrichment with zero credits accepted")
	}
	// Dedup: two items matched the same record b1, one b2: 2 credits.
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	done, err := f.svc.Complete(ctx, a, j.ID, jobs.Outcome{Found: 3, Delivered: 3, RecordIDs: []string{"b1", "b1", "b2"}})
	if err != nil || done.TotalCost != 2 || done.CreditsReleased != 1 {
		t.Fatalf("complete %+v, %v", done, err)
	}
	// A second enrichment naming b1 by id is free for it.
	j2, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"id"},
		Items: []map[string]any{{"id": "b1"}, {"id": "b9"}}})
	if err != nil || j2.Meta.SkippedDuplicates != 1 || j2.CreditsReserved != 1 {
		t.Fatalf("dedup submit %+v, %v", j2.Meta, err)
	}
	f.checkInvariants(t, a)
}

func TestChargeAtAcceptance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "enhance-4")
	items := []map[string]any{{"name": "a"}, {"name": "b"}}
	j, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if j.TotalCost != 2 || f.available(t, a, "enhancement") != 2 {
		t.Fatalf("posted at acceptance: %+v", j)
	}
	// Failing does not give the charge back.
	if _, err := f.svc.Start(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	failed, err := f.svc.Fail(ctx, a, j.ID, "The source was unavailable.")
	if err != nil || failed.Status != jobs.Failed || failed.Error != "The source was unavailable. Its charge at acceptance stands." || f.available(t, a, "enhancement") != 2 {
		t.Fatalf("fail %+v, %v", failed, err)
	}
	// A submit whose queueing fails is refunded, even posted at acceptance.
	f.queue.Fail.Store(true)
	if _, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items}); err == nil {
		t.Fatal("submit with the queue down succeeded")
	}
	if got := f.available(t, a, "enhancement"); got != 2 {
		t.Fatalf("available after a failed submit %d, want 2", got)
	}
	f.checkInvariants(t, a)
}

func TestEnqueueFailureVoids(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	f.queue.Fail.Store(true)
	if _, err := f.svc.Submit(ctx, a, search(4)); err == nil {
		t.Fatal("submit with the queue down succeeded")
	}
	if got := f.available(t, a, "people"); got != 10 {
		t.Fatalf("available %d after a failed enqueue", got)
	}
	list, _, err := f.svc.List(ctx, a, jobs.ListFilter{})
	if err != nil || len(list) != 1 || list[0].Status != jobs.Failed {
		t.Fatalf("jobs %+v, %v", list, err)
	}
	f.checkInvariants(t, a)
}

// failingUpdates is a real store whose updates fail.
type failingUpdates struct{ *jobstore.Redis }

func (failingUpdates) Update(context.Context, string, string, []jobs.Status, func(*jobs.Job)) (jobs.Job, error) {
	return jobs.Job{}, errors.New("store down")
}

// A submit whose queueing fails and whose job cannot be marked failed leaves
// its credits held, for the reaper (which abandons the queued job), rather
// than a queued job whose credits are back: its reservation stays open, and
// a charge posted at acceptance stays posted.
func TestEnqueueAndUpdateFailureLeavesReservation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *jobs.Config) { c.Store = failingUpdates{c.Store.(*jobstore.Redis)} })
	f.queue.Fail.Store(true)
	svc, l := f.svc, f.l
	a, err := svc.CreateAccount(ctx, "", "Acme", []string{"people-10", "enhance-4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Submit(ctx, a.ID, search(4)); err == nil {
		t.Fatal("submit with the queue down succeeded")
	}
	list, _, err := svc.List(ctx, a.ID, jobs.ListFilter{})
	if err != nil || len(list) != 1 || list[0].Status != jobs.Queued {
		t.Fatalf("jobs %+v, %v", list, err)
	}
	r, err := l.Reservation(ctx, a.ID, list[0].ID)
	if err != nil || r.State != credit.Reserved || r.Reserved() != 4 {
		t.Fatalf("reservation %+v, %v: want it open for the reaper", r, err)
	}
	p, err := l.Pool(ctx, a.ID, "people")
	if err != nil || p.Available() != 6 {
		t.Fatalf("pool %+v, %v", p, err)
	}

	items := []map[string]any{{"name": "a"}, {"name": "b"}}
	if _, err := svc.Submit(ctx, a.ID, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items}); err == nil {
		t.Fatal("an enrichment with the queue down succeeded")
	}
	if p, err := l.Pool(ctx, a.ID, "enhancement"); err != nil || p.Available() != 2 {
		t.Fatalf("the enhancement pool after a failed submit charged at acceptance: %+v, %v; want the charge held for the reaper", p.Counts, err)
	}
	ledgertest.CheckAccount(t, l, a.ID)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	queued, _ := f.svc.Submit(ctx, a, search(3))
	c, err := f.svc.Cancel(ctx, a, queued.ID)
	if err != nil || c.Status != jobs.Canceled || c.CreditsReleased != 3 {
		t.Fatalf("cancel queued %+v, %v", c, err)
	}
	if _, err := f.svc.Cancel(ctx, a, queued.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("cancel twice: %v", err)
	}
	// A worker that started before the cancel finds the job ended.
	if _, err := f.svc.Start(ctx, a, queued.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("start after cancel: %v", err)
	}
	// Running, then canceled: the worker's completion is refused.
	running, _ := f.svc.Submit(ctx, a, search(2))
	if _, err := f.svc.Start(ctx, a, running.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(ctx, a, running.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(ctx, a, running.ID, jobs.Outcome{Delivered: 2}); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("complete after cancel: %v", err)
	}
	// Finished, then canceled: 409 territory.
	finished, _ := f.svc.Submit(ctx, a, search(1))
	_, _ = f.svc.Start(ctx, a, finished.ID)
	if _, err := f.svc.Complete(ctx, a, finished.ID, jobs.Outcome{Delivered: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(ctx, a, finished.ID); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("cancel finished: %v", err)
	}
	if _, err := f.svc.Cancel(ctx, "other", finished.ID); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("cancel another account's job: %v", err)
	}
	if got := f.available(t, a, "people"); got != 9 {
		t.Fatalf("available %d, want 9", got)
	}
	if len(f.queue.Canceled()) != 2 {
		t.Fatalf("queue cancels %v", f.queue.Canceled())
	}
	f.checkInvariants(t, a)
}

func TestFail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	j, _ := f.svc.Submit(ctx, a, search(6))
	_, _ = f.svc.Start(ctx, a, j.ID)
	failed, err := f.svc.Fail(ctx, a, j.ID, "The query could not run.")
	if err != nil || failed.Status != jobs.Failed || failed.Error != "The query could not run. Nothing was charged." || failed.CreditsReleased != 6 {
		t.Fatalf("fail %+v, %v", failed, err)
	}
	if _, err := f.svc.Fail(ctx, a, j.ID, "again"); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("fail twice: %v", err)
	}
	f.checkInvariants(t, a)
}

// TestConcurrentSubmits sends 200 submits of 1 credit at once against a
// balance of 10 with reject: exactly 10 are accepted.
func TestConcurrentSubmits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10")
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			_, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1, OnInsufficient: credit.Reject})
			switch _, short := errors.AsType[*credit.InsufficientError](err); {
			case err == nil:
				accepted.Add(1)
			case short:
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 10 || refused.Load() != 190 {
		t.Fatalf("accepted %d, refused %d", accepted.Load(), refused.Load())
	}
	if got := f.available(t, a, "people"); got != 0 {
		t.Fatalf("available %d", got)
	}
	f.checkInvariants(t, a)
}

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acct, err := f.svc.CreateAccount(ctx, "acme-1", "Acme", []string{"people-10", "local-3"})
	if err != nil || acct.ID != "acme-1" {
		t.Fatalf("create %+v, %v", acct, err)
	}
	pools, err := f.l.Pools(ctx, "acme-1")
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools %+v, %v", pools, err)
	}
	if _, err := f.svc.CreateAccount(ctx, "acme-1", "Again", []string{"people-10"}); !errors.Is(err, jobs.ErrAccountExists) {
		t.Fatalf("exists: %v", err)
	}
	for _, tt := range []struct {
		id    string
		plans []string
		field string
	}{
		{"Acme", []string{"people-10"}, "id"},
		{"a:b", []string{"people-10"}, "id"},
		{"ok", nil, "plans"},
		{"ok", []string{"nope"}, "plans"},
		{"ok", []string{"people-10", "overlap"}, "plans"},
	} {
		_, err := f.svc.CreateAccount(ctx, tt.id, "", tt.plans)
		if fe, ok := errors.AsType[*jobs.FieldError](err); !ok || fe.Field != tt.field {
			t.Errorf("%s %v: %v, want a field error on %s", tt.id, tt.plans, err, tt.field)
		}
	}
	if _, err := f.svc.Account(ctx, "ok"); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("a refused account exists: %v", err)
	}
}

// TestAbandon ends jobs whose task will not run them again, and gives back
// what they should not keep: an open reservation is voided, a settle whose
// job was never recorded is refunded with its hold waived, and a charge at
// acceptance stands once the job has started and is refunded when it never
// did.
func TestAbandon(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account(t, "people-10", "enhance-4")
	items := []map[string]any{{"name": "a"}, {"name": "b"}}
	const lost = "The job could not run: its task was lost."

	open, _ := f.svc.Submit(ctx, a, search(3))
	j, err := f.svc.Abandon(ctx, a, open.ID, lost)
	if err != nil || j.Status != jobs.Failed || j.Error != lost+" Nothing was charged." || j.CreditsReleased != 3 {
		t.Fatalf("abandon an open reservation: %+v, %v", j, err)
	}

	// The worker settled 12 (10 prepaid, 2 overage) and died before recording it.
	settled, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "*", NumRecords: 12, OnInsufficient: credit.Overage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, settled.ID); err != nil {
		t.Fatal(err)
	}
	r, err := f.l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: settled.ID, Cost: 12})
	if err != nil || r.HoldID == "" {
		t.Fatalf("settle: %+v, %v", r, err)
	}
	j, err = f.svc.Abandon(ctx, a, settled.ID, lost)
	if err != nil || j.Status != jobs.Failed || j.Error != lost+" What it was charged was refunded." {
		t.Fatalf("abandon a settled job: %+v, %v", j, err)
	}
	if got := f.available(t, a, "people"); got != 10 {
		t.Errorf("people available after the refund: %d, want 10", got)
	}
	if h, err := f.l.Hold(ctx, r.HoldID); err != nil || h.Status != credit.HoldWaived {
		t.Errorf("the settled job's hold: %+v, %v; want it waived", h, err)
	}

	never, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = f.svc.Abandon(ctx, a, never.ID, lost); err != nil || j.Error != lost+" What it was charged was refunded." {
		t.Fatalf("abandon a job charged at acceptance that never started: %+v, %v", j, err)
	}
	if got := f.available(t, a, "enhancement"); got != 4 {
		t.Errorf("enhancement available after the refund: %d, want 4", got)
	}
	started, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a, started.ID); err != nil {
		t.Fatal(err)
	}
	if j, err = f.svc.Abandon(ctx, a, started.ID, lost); err != nil || j.Error != lost+" Its charge at acceptance stands." {
		t.Fatalf("abandon a job charged at acceptance that started: %+v, %v", j, err)
	}
	if got := f.available(t, a, "enhancement"); got != 2 {
		t.Errorf("enhancement available after a started job: %d, want 2", got)
	}

	if _, err := f.svc.Abandon(ctx, a, open.ID, lost); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("abandon twice: %v, want ErrEnded", err)
	}
	f.checkInvariants(t, a)
}

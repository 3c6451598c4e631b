package scheduler_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
	"github.com/creditrun/creditrun/storage"
)

// expireEnv is a jobs service with local storage on a fake clock, whose
// jobs the test completes itself, as a worker would (its queue only records
// them).
type expireEnv struct {
	t     *testing.T
	clock *ledgertest.Clock
	l     *ledger.Redis
	svc   *jobs.Service
	local *storage.Local
}

func newExpireEnv(t *testing.T) *expireEnv {
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	e := &expireEnv{t: t, clock: ledgertest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	e.l = ledger.New(c, ledger.Options{NowFunc: e.clock.Now})
	store := jobstore.New(c, jobstore.Options{NowFunc: e.clock.Now})
	e.local = storage.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("secret-of-the-test"), e.clock.Now)
	e.svc = jobs.NewService(jobs.Config{Ledger: e.l, Store: store, Queue: &jobstest.Queue{}, Accounts: store, Catalog: plan.Builtin(),
		Objects: e.local, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }, NowFunc: e.clock.Now})
	return e
}

func (e *expireEnv) account(id string) string {
	a, err := e.svc.CreateAccount(e.t.Context(), id, id, []string{"people-1k-99"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// finish runs a download of the account to success with one result file.
func (e *expireEnv) finish(account string) jobs.Job {
	t, ctx := e.t, e.t.Context()
	j, err := e.svc.Submit(ctx, account, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, account, j.ID); err != nil {
		t.Fatal(err)
	}
	key := storage.ResultKey(account, j.ID, 1, jobs.CSV)
	n, err := e.local.Put(ctx, key, strings.NewReader("id\nper_1\n"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldNone}})
	if err != nil {
		t.Fatal(err)
	}
	j, err = e.svc.Complete(ctx, account, j.ID, jobs.Outcome{Found: 1, Delivered: 1, Results: []jobs.ResultFile{{Key: key, Format: jobs.CSV, Records: 1, Bytes: n}}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestExpire keeps result files for the TTL after a job finished, then
// deletes them and marks the job's results expired, once.
func TestExpire(t *testing.T) {
	t.Parallel()
	e := newExpireEnv(t)
	ctx := t.Context()
	clock, l, svc, local := e.clock, e.l, e.svc, e.local
	a := e.account("exp")
	old := e.finish(a)
	clock.Advance(2 * time.Hour)
	recent := e.finish(a)

	exp, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: l, Jobs: svc, ResultTTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// 2 h after the first job: nothing is past 3 h.
	if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("early pass: %d, %v", n, err)
	}
	clock.Advance(time.Hour - time.Millisecond) // the first is a millisecond short of 3 h
	if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("a millisecond early: %d, %v", n, err)
	}
	clock.Advance(time.Millisecond) // exactly 3 h
	if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != 1 {
		t.Fatalf("at the TTL: expired %d, %v; want 1", n, err)
	}
	clock.Advance(30 * time.Minute) // the first is 3.5 h old, the second 1.5 h
	for pass, want := range []int{0, 0} {
		if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != want {
			t.Fatalf("pass %d: expired %d, %v; want %d", pass, n, err, want)
		}
	}
	got, err := svc.Get(ctx, a, old.ID)
	if err != nil || got.ResultsExpiredAt == nil || len(got.Results) != 0 {
		t.Fatalf("old job after expiry: %+v, %v", got, err)
	}
	if _, err := local.Tags(ctx, old.Results[0].Key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the old file is still there: %v", err)
	}
	if got, _ := svc.Get(ctx, a, recent.ID); got.ResultsExpiredAt != nil || len(got.Results) != 1 {
		t.Fatalf("the recent job lost its results: %+v", got)
	}
	if _, err := local.Tags(ctx, recent.Results[0].Key); err != nil {
		t.Fatalf("the recent file is gone: %v", err)
	}
	ledgertest.CheckAccount(t, l, a)
	if _, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: l, Jobs: svc}); err == nil {
		t.Fatal("an expirer without a TTL was built")
	}
}

// TestExpireManyAccounts expires the due jobs of accounts spread over several
// pages of the expiry's walk, and nothing else.
func TestExpireManyAccounts(t *testing.T) {
	t.Parallel()
	e := newExpireEnv(t)
	var due []jobs.Job
	for i := range 1200 {
		a := e.account(fmt.Sprintf("many%04d", i))
		if i%100 == 7 {
			due = append(due, e.finish(a))
		}
	}
	e.clock.Advance(time.Hour)
	kept := e.finish("many0000")
	exp, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: e.l, Jobs: e.svc, ResultTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := exp.Expire(t.Context(), e.clock.Now()); err != nil || n != len(due) {
		t.Fatalf("expired %d, %v; want %d", n, err, len(due))
	}
	for _, j := range due {
		if got, err := e.svc.Get(t.Context(), j.Account, j.ID); err != nil || got.ResultsExpiredAt == nil {
			t.Fatalf("%s/%s after expiry: %+v, %v", j.Account, j.ID, got, err)
		}
	}
	if got, err := e.svc.Get(t.Context(), kept.Account, kept.ID); err != nil || got.ResultsExpiredAt != nil {
		t.Fatalf("the recent job: %+v, %v", got, err)
	}
	if n, err := exp.Expire(t.Context(), e.clock.Now()); err != nil || n != 0 {
		t.Fatalf("second pass: %d, %v", n, err)
	}
}

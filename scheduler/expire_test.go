package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
	"github.com/creditrun/creditrun/storage"
)

// heldQueue takes jobs without running them: the expiry test completes them
// itself through the service, as a worker would.
type heldQueue struct{}

func (heldQueue) Enqueue(context.Context, jobs.Job) error { return nil }
func (heldQueue) Cancel(context.Context, jobs.Job) error  { return nil }

// TestExpire keeps result files for the TTL after a job finished, then
// deletes them and marks the job's results expired, once.
func TestExpire(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	clock := ledgertest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(c, ledger.Options{NowFunc: clock.Now})
	store := jobstore.New(c, jobstore.Options{NowFunc: clock.Now})
	local := storage.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("secret-of-the-test"), clock.Now)
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: store, Queue: heldQueue{}, Accounts: store, Catalog: plan.Builtin(),
		Objects: local, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }, NowFunc: clock.Now})
	ctx := t.Context()
	a, err := svc.CreateAccount(ctx, "exp", "Exp", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	finish := func() jobs.Job {
		j, err := svc.Submit(ctx, a.ID, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Start(ctx, a.ID, j.ID); err != nil {
			t.Fatal(err)
		}
		key := storage.ResultKey(a.ID, j.ID, 1, jobs.CSV)
		n, err := local.Put(ctx, key, strings.NewReader("id\nper_1\n"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldNone}})
		if err != nil {
			t.Fatal(err)
		}
		j, err = svc.Complete(ctx, a.ID, j.ID, jobs.Outcome{Found: 1, Delivered: 1, Results: []jobs.ResultFile{{Key: key, Format: jobs.CSV, Records: 1, Bytes: n}}})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	old := finish()
	clock.Advance(2 * time.Hour)
	recent := finish()

	exp, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: l, Jobs: svc, ResultTTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// 2 h after the first job: nothing is past 3 h.
	if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("early pass: %d, %v", n, err)
	}
	clock.Advance(90 * time.Minute) // the first is 3.5 h old, the second 1.5 h
	for pass, want := range []int{1, 0} {
		if n, err := exp.Expire(ctx, clock.Now()); err != nil || n != want {
			t.Fatalf("pass %d: expired %d, %v; want %d", pass, n, err, want)
		}
	}
	got, err := svc.Get(ctx, a.ID, old.ID)
	if err != nil || got.ResultsExpiredAt == nil || len(got.Results) != 0 {
		t.Fatalf("old job after expiry: %+v, %v", got, err)
	}
	if _, err := local.Tags(ctx, old.Results[0].Key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the old file is still there: %v", err)
	}
	if got, _ := svc.Get(ctx, a.ID, recent.ID); got.ResultsExpiredAt != nil || len(got.Results) != 1 {
		t.Fatalf("the recent job lost its results: %+v", got)
	}
	if _, err := local.Tags(ctx, recent.Results[0].Key); err != nil {
		t.Fatalf("the recent file is gone: %v", err)
	}
	ledgertest.CheckAccount(t, l, a.ID)
	if _, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: l, Jobs: svc}); err == nil {
		t.Fatal("an expirer without a TTL was built")
	}
}

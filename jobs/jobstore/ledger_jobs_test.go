package jobstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
)

// TestLedgerJobsVerify reads jobs as the ledger's audit does: the jobs
// that have not ended, and the states of jobs by ref, an unreadable record
// with its problem and a missing one left out.
func TestLedgerJobsVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("ljv%d", time.Now().UnixNano())
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := jobstore.New(c, jobstore.Options{Prefix: prefix, NowFunc: func() time.Time { return now }})
	create := func(id string, st jobs.Status, accept bool, attempts int) {
		t.Helper()
		j := jobs.Job{ID: id, Account: "acme", Kind: jobs.Search, DataType: "people", Pool: "people", Status: st,
			ChargeAtAcceptance: accept, Attempts: attempts, CreatedAt: now}
		if st.Terminal() {
			j.FinishedAt = &now
		}
		if err := store.Create(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	create("queued", jobs.Queued, false, 0)
	create("failed", jobs.Failed, false, 1)
	create("failed-accepted", jobs.Failed, true, 1)
	create("canceled", jobs.Canceled, false, 0)
	create("canceled-accepted", jobs.Canceled, true, 0)
	create("canceled-accepted-started", jobs.Canceled, true, 1)
	if err := c.Set(ctx, prefix+":{a:acme}:job:garbled", "{not json", 0).Err(); err != nil {
		t.Fatal(err)
	}

	lj := store.LedgerJobs()
	active, err := lj.ActiveBefore(ctx, []string{"acme"}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ledger.JobRef{{Account: "acme", ID: "queued"}}, active); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	ref := func(id string) ledger.JobRef { return ledger.JobRef{Account: "acme", ID: id} }
	got, err := lj.JobStates(ctx, []ledger.JobRef{ref("queued"), ref("failed"), ref("failed-accepted"), ref("canceled"),
		ref("canceled-accepted"), ref("canceled-accepted-started"),
		ref("missing"), ref("garbled"), {Account: "bad:id", ID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[ref("garbled")].Problem; p == "" {
		t.Errorf("garbled record: no problem in %+v", got[ref("garbled")])
	}
	delete(got, ref("garbled"))
	want := map[ledger.JobRef]ledger.JobState{
		ref("queued"):          {Status: "queued"},
		ref("failed"):          {Status: "failed", Ended: true, EndedAt: now},
		ref("failed-accepted"): {Status: "failed", Ended: true, EndedAt: now, ChargeStands: true},
		ref("canceled"):        {Status: "canceled", Ended: true, EndedAt: now, ChargeStands: true},
		// Canceled before it started, a charge at acceptance is refunded.
		ref("canceled-accepted"):         {Status: "canceled", Ended: true, EndedAt: now},
		ref("canceled-accepted-started"): {Status: "canceled", Ended: true, EndedAt: now, ChargeStands: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

package jobs_test

import (
	"errors"
	"testing"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/storage"
)

func TestExpireResults(t *testing.T) {
	t.Parallel()
	f := newHoldsFixture(t, true)
	a, j, h := f.heldJob(t, 2, 2)
	if _, err := f.svc.PayHold(ctx, h.ID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	// Storage down: nothing changes, the next pass tries again.
	f.objects.mu.Lock()
	f.objects.failing = true
	f.objects.mu.Unlock()
	if _, err := f.svc.ExpireResults(ctx, a, j.ID); err == nil {
		t.Fatal("expired with storage down")
	}
	if got, _ := f.svc.Get(ctx, a, j.ID); got.ResultsExpiredAt != nil || len(got.Results) != 2 {
		t.Fatalf("a failed expiry changed the job: %+v", got)
	}
	f.objects.mu.Lock()
	f.objects.failing = false
	f.objects.mu.Unlock()

	done, err := f.svc.ExpireResults(ctx, a, j.ID)
	if err != nil || done.ResultsExpiredAt == nil || done.Results != nil || done.Status != jobs.Succeeded {
		t.Fatalf("expire: %+v, %v", done, err)
	}
	for _, r := range j.Results {
		if _, err := f.local.Tags(ctx, r.Key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s is still there: %v", r.Key, err)
		}
	}
	again, err := f.svc.ExpireResults(ctx, a, j.ID)
	if err != nil || !again.ResultsExpiredAt.Equal(*done.ResultsExpiredAt) {
		t.Fatalf("expire again: %+v, %v", again, err)
	}
	// Credits are untouched by expiry.
	if got := j.TotalCost; got != 12 || again.TotalCost != got {
		t.Fatalf("total cost %d then %d", got, again.TotalCost)
	}
	ledgertest.CheckAccount(t, f.l, a)

	// A job that did not succeed has nothing to expire.
	queued, err := f.svc.Submit(ctx, a, jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1, OnInsufficient: "overage"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ExpireResults(ctx, a, queued.ID); err == nil {
		t.Fatal("expired a queued job")
	}
}

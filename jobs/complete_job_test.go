package jobs_test

import (
	"errors"
	"testing"

	"github.com/creditrun/creditrun/jobs"
)

// TestCompleteJobFromStart: a worker completes the job Start gave it in one
// round trip, the settle and the record's write from Start's revision in one
// pipeline; when the record changed since Start (a second delivery started
// it, or it was canceled), or the settlement is not the one expected (an
// overage), the write reads it again and the outcome is what Complete gives.
func TestCompleteJobFromStart(t *testing.T) {
	t.Parallel()
	f, rt := newCountedFixture(t)
	a := f.account(t, "people-10")
	submitStart := func(n int64) jobs.Job {
		t.Helper()
		j, err := f.svc.Submit(ctx, a, search(n))
		if err != nil {
			t.Fatal(err)
		}
		if j, err = f.svc.Start(ctx, a, j.ID); err != nil {
			t.Fatal(err)
		}
		return j
	}

	// A first job loads the scripts, which a second sends by hash.
	if _, err := f.svc.CompleteJob(ctx, submitStart(1), jobs.Outcome{Found: 1, Delivered: 1}); err != nil {
		t.Fatal(err)
	}
	j := submitStart(3)
	before := rt.n.Load()
	done, err := f.svc.CompleteJob(ctx, j, jobs.Outcome{Found: 2, Delivered: 2, Records: []byte(`[{"id":"p1"},{"id":"p2"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if trips := rt.n.Load() - before; trips != 1 {
		t.Errorf("CompleteJob took %d round trips, want 1 (settle and write)", trips)
	}
	got, err := f.svc.Get(ctx, a, j.ID)
	if err != nil || got.Status != jobs.Succeeded || got.TotalCost != 2 || got.CreditsReleased != 1 || string(got.Records) != `[{"id":"p1"},{"id":"p2"}]` ||
		got.Attempts != 1 || got.StartedAt == nil || !got.StartedAt.Equal(*done.StartedAt) {
		t.Fatalf("completed %+v, %v", got, err)
	}

	// A second delivery started it meanwhile: the record is read again.
	j = submitStart(2)
	again, err := f.svc.Start(ctx, a, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	before = rt.n.Load()
	if _, err := f.svc.CompleteJob(ctx, j, jobs.Outcome{Found: 1, Delivered: 1}); err != nil {
		t.Fatal(err)
	}
	if trips := rt.n.Load() - before; trips != 3 {
		t.Errorf("CompleteJob of a changed record took %d round trips, want 3 (settle and a write refused, a read, a write)", trips)
	}
	if got, err := f.svc.Get(ctx, a, j.ID); err != nil || got.Status != jobs.Succeeded || got.Attempts != again.Attempts || got.TotalCost != 1 {
		t.Fatalf("completed after a second start: %+v, %v", got, err)
	}

	// Canceled meanwhile: nothing is charged, and the job stays canceled.
	j = submitStart(2)
	if _, err := f.svc.Cancel(ctx, a, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CompleteJob(ctx, j, jobs.Outcome{Found: 2, Delivered: 2}); !errors.Is(err, jobs.ErrEnded) {
		t.Fatalf("complete of a canceled job: %v, want ErrEnded", err)
	}
	if got, err := f.svc.Get(ctx, a, j.ID); err != nil || got.Status != jobs.Canceled || got.TotalCost != 0 {
		t.Fatalf("canceled job after a late complete: %+v, %v", got, err)
	}
	// 10 - 1 - 2 - 1 = 6
	if n := f.available(t, a, "people"); n != 6 {
		t.Fatalf("available %d, want 6", n)
	}
	f.checkInvariants(t, a)
}

// TestCompleteJobLostReply drops the connection as the completion's round
// trip is answered, so that go-redis sends the pipeline again: the job is
// settled once and marked succeeded.
func TestCompleteJobLostReply(t *testing.T) {
	t.Parallel()
	f, cut := newCutFixture(t)
	a := f.account(t, "people-10")
	for _, n := range []int64{1, 4} {
		j, err := f.svc.Submit(ctx, a, search(n))
		if err != nil {
			t.Fatal(err)
		}
		if j, err = f.svc.Start(ctx, a, j.ID); err != nil {
			t.Fatal(err)
		}
		if n == 4 { // the first job loaded the scripts
			cut.Store(true)
		}
		done, err := f.svc.CompleteJob(ctx, j, jobs.Outcome{Found: 1, Delivered: 1})
		if err != nil || done.Status != jobs.Succeeded || done.TotalCost != 1 || done.CreditsReleased != n-1 {
			t.Fatalf("completed %+v, %v", done, err)
		}
	}
	if cut.Load() {
		t.Fatal("no reply was cut: the test proves nothing")
	}
	// 10 - 1 - 1
	if n := f.available(t, a, "people"); n != 8 {
		t.Fatalf("available %d, want 8", n)
	}
	f.checkInvariants(t, a)
}

// TestStartJobFromSubmit: a job started from the revision its submit wrote
// (which its task carries) is marked running in one round trip; a second
// delivery of the same task finds the record changed, reads it, and counts
// a second attempt.
func TestStartJobFromSubmit(t *testing.T) {
	t.Parallel()
	f, rt := newCountedFixture(t)
	a := f.account(t, "people-10")
	if _, err := f.svc.StartJob(ctx, mustSubmit(t, f, a, 1)); err != nil { // loads the scripts
		t.Fatal(err)
	}
	j := mustSubmit(t, f, a, 2)
	if j.Rev == "" {
		t.Fatal("a submit of the whole request wrote no revision")
	}
	task := jobs.Job{Account: j.Account, ID: j.ID, Rev: j.Rev}
	before := rt.n.Load()
	started, err := f.svc.StartJob(ctx, task)
	if err != nil || started.Status != jobs.Running || started.Attempts != 1 || started.NumRecords != 2 || started.Progress.Total != 2 {
		t.Fatalf("started %+v, %v", started, err)
	}
	if trips := rt.n.Load() - before; trips != 1 {
		t.Errorf("StartJob from the submit's revision took %d round trips, want 1", trips)
	}
	before = rt.n.Load()
	again, err := f.svc.StartJob(ctx, task)
	if err != nil || again.Attempts != 2 || !again.StartedAt.Equal(*started.StartedAt) {
		t.Fatalf("started again %+v, %v", again, err)
	}
	if trips := rt.n.Load() - before; trips != 3 {
		t.Errorf("a second StartJob from a stale revision took %d round trips, want 3 (a write refused, a read, a write)", trips)
	}
	if got, err := f.svc.Get(ctx, a, j.ID); err != nil || got.Attempts != 2 || got.Status != jobs.Running {
		t.Fatalf("stored %+v, %v", got, err)
	}
}

func mustSubmit(t *testing.T, f *fixture, account string, n int64) jobs.Job {
	t.Helper()
	j, err := f.svc.Submit(ctx, account, search(n))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

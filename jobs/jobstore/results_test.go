package jobstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/jobs"
)

// finish ends a queued job with st, at the harness's now plus offset, with
// result files when files is positive.
func (h *harness) finish(account, id string, st jobs.Status, offset time.Duration, files int) {
	h.t.Helper()
	_, err := h.store.Update(h.ctx, account, id, []jobs.Status{jobs.Queued}, func(j *jobs.Job) {
		at := h.now.Add(offset)
		j.Status, j.FinishedAt = st, &at
		for i := range files {
			j.Results = append(j.Results, jobs.ResultFile{Key: "results/" + account + "/" + id + "/" + string(rune('0'+i)) + ".csv", Format: jobs.CSV, Records: 1})
		}
	})
	if err != nil {
		h.t.Fatalf("finish %s: %v", id, err)
	}
}

func (h *harness) due(accounts []string, before time.Time) []string {
	h.t.Helper()
	refs, err := h.store.ResultsDue(h.ctx, accounts, before)
	if err != nil {
		h.t.Fatalf("ResultsDue: %v", err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Account+"/"+r.ID)
	}
	slices.Sort(got)
	return got
}

// testResultsIndex follows jobs with result files in and out of the index
// the expiry reads: in when they succeed with files, out when the files go or
// the record expires; searches and failed jobs are never in it.
func testResultsIndex(t *testing.T, h *harness) {
	for i, id := range []string{"job_01", "job_02", "job_03", "job_04"} {
		h.create(h.job("acme", id, jobs.Download, time.Duration(i)*time.Millisecond), nil)
	}
	h.create(h.job("beta", "job_05", jobs.Download, 0), nil)
	h.finish("acme", "job_01", jobs.Succeeded, time.Hour, 2)
	h.finish("acme", "job_02", jobs.Succeeded, time.Hour, 0) // a search: records inline
	h.finish("acme", "job_03", jobs.Failed, time.Hour, 1)
	h.finish("acme", "job_04", jobs.Succeeded, 3*time.Hour, 1)
	h.finish("beta", "job_05", jobs.Succeeded, 2*time.Hour, 1)

	both := []string{"acme", "beta"}
	if got := h.due(both, h.now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due before the first finish: %v", got)
	}
	if diff := cmp.Diff([]string{"acme/job_01", "beta/job_05"}, h.due(both, h.now.Add(3*time.Hour))); diff != "" {
		t.Errorf("due before 3h (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"acme/job_01", "acme/job_04"}, h.due([]string{"acme", "bad:id", "nobody"}, h.now.Add(24*time.Hour))); diff != "" {
		t.Errorf("due of acme (-want +got):\n%s", diff)
	}
	if got := h.due(nil, h.now.Add(24*time.Hour)); len(got) != 0 {
		t.Errorf("due of no accounts: %v", got)
	}

	// Another update that keeps the files keeps the entry where it was.
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Succeeded}, func(j *jobs.Job) { j.Error = "" }); err != nil {
		t.Fatal(err)
	}
	// The files go: the entry goes.
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Succeeded}, func(j *jobs.Job) {
		now := h.now.Add(10 * time.Hour)
		j.ResultsExpiredAt, j.Results = &now, nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme/job_04", "beta/job_05"}, h.due(both, h.now.Add(24*time.Hour))); diff != "" {
		t.Errorf("due after job_01's files went (-want +got):\n%s", diff)
	}

	// A record that expired is dropped from the index, not returned. On
	// miniredis every ended job expires at once.
	h.expire("beta", "job_05")
	want := []string{"acme/job_04"}
	if h.fastForward != nil {
		want = nil
	}
	if diff := cmp.Diff(want, h.due([]string{"beta", "acme"}, h.now.Add(24*time.Hour))); diff != "" {
		t.Errorf("due after beta's record expired (-want +got):\n%s", diff)
	}
	if n, err := h.client.ZCard(h.ctx, h.key("beta", "results")).Result(); err != nil || n != 0 {
		t.Errorf("beta's results index after its record expired: %d entries, %v", n, err)
	}
}

package jobstore_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/jobs"
)

// testActiveIndex follows jobs in and out of the index of jobs that have not
// ended, which the reaper reads: in from their creation, out when they end.
func testActiveIndex(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Download, 0), nil)
	h.create(h.job("acme", "job_02", jobs.Search, time.Millisecond), nil)
	ended := h.job("acme", "job_03", jobs.Search, 2*time.Millisecond)
	ended.Status = jobs.Failed
	h.create(ended, nil)
	h.create(h.job("beta", "job_04", jobs.Search, 0), nil)

	active := func(accounts []string, before time.Time) []string {
		t.Helper()
		refs, err := h.store.ActiveBefore(h.ctx, accounts, before)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.Account+"/"+r.ID)
		}
		return got
	}
	if diff := cmp.Diff([]string{"acme/job_01", "acme/job_02", "beta/job_04"}, active([]string{"acme", "beta", "bad:id"}, h.now.Add(time.Hour))); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"acme/job_01"}, active([]string{"acme"}, h.now.Add(time.Millisecond))); diff != "" {
		t.Errorf("active before now+1ms (-want +got):\n%s", diff)
	}
	if got := active([]string{"acme"}, h.now); len(got) != 0 {
		t.Errorf("active before the first creation: %v", got)
	}

	h.move("acme", "job_01", jobs.Queued, jobs.Running)
	if diff := cmp.Diff([]string{"acme/job_01", "acme/job_02"}, active([]string{"acme"}, h.now.Add(time.Hour))); diff != "" {
		t.Errorf("active with job_01 running (-want +got):\n%s", diff)
	}
	h.move("acme", "job_01", jobs.Running, jobs.Succeeded)
	h.move("acme", "job_02", jobs.Queued, jobs.Canceled)
	if got := active([]string{"acme"}, h.now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("active after every acme job ended: %v", got)
	}
	if n, err := h.client.ZCard(h.ctx, h.key("acme", "active")).Result(); err != nil || n != 0 {
		t.Errorf("acme's active index holds %d, %v", n, err)
	}
	if got := active(nil, h.now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("active of no accounts: %v", got)
	}
}

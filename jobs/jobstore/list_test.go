package jobstore_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditrun/creditrun/jobs"
)

// listAll pages through an account's jobs, failing the test on an error, a
// repeated id, or an empty page, and returns the ids in order.
func listAll(t *testing.T, h *harness, account string, f jobs.ListFilter) (ids []string, pages int) {
	t.Helper()
	seen := map[string]bool{}
	for {
		page, next, err := h.store.List(h.ctx, account, f)
		if err != nil {
			t.Fatalf("List %+v: %v", f, err)
		}
		pages++
		if len(page) == 0 && (pages > 1 || next != "") {
			t.Fatalf("page %d is empty with cursor %q", pages, next)
		}
		limit := f.Limit
		if limit <= 0 {
			limit = 50
		}
		if len(page) > limit || next != "" && len(page) != limit {
			t.Fatalf("page %d holds %d jobs (limit %d, next %q)", pages, len(page), limit, next)
		}
		for _, j := range page {
			if seen[j.ID] {
				t.Fatalf("job %s listed twice", j.ID)
			}
			seen[j.ID] = true
			ids = append(ids, j.ID)
		}
		if next == "" {
			return ids, pages
		}
		f.Cursor = next
	}
}

// seedList creates n jobs of the account: kinds and statuses in turn, three
// at a time in one millisecond, so that ties on time are common. It returns
// the jobs newest first, the order List must give.
func seedList(t *testing.T, h *harness, account string, n int) []jobs.Job {
	t.Helper()
	kinds := []jobs.Kind{jobs.Search, jobs.Download, jobs.Enrichment}
	var all []jobs.Job
	for i := range n {
		// Ids do not follow time here, so that the tie order is by id alone.
		id := fmt.Sprintf("job_%03d", (i*7)%n)
		j := h.job(account, id, kinds[i%3], time.Duration(i/3)*time.Millisecond)
		h.create(j, nil)
		switch i % 4 {
		case 1:
			j = h.move(account, id, jobs.Queued, jobs.Running)
		case 2:
			j = h.move(account, id, jobs.Queued, jobs.Failed)
		}
		all = append(all, j)
	}
	slices.SortFunc(all, func(a, b jobs.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return all
}

func idsOf(js []jobs.Job, keep func(jobs.Job) bool) []string {
	ids := []string{}
	for _, j := range js {
		if keep(j) {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

func testListPaging(t *testing.T, h *harness) {
	all := seedList(t, h, "acme", 23)
	want := idsOf(all, func(jobs.Job) bool { return true })
	for _, limit := range []int{1, 3, 5, 22, 23, 24} {
		got, pages := listAll(t, h, "acme", jobs.ListFilter{Limit: limit})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d (-want +got):\n%s", limit, diff)
		}
		if wantPages := (23 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}

	// A page boundary in the middle of a millisecond's ties, whose job then
	// expires: the next page still starts right after it.
	page, next, err := h.store.List(h.ctx, "acme", jobs.ListFilter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if page[3].CreatedAt != page[2].CreatedAt && page[3].CreatedAt != all[4].CreatedAt {
		t.Fatalf("seed: the fourth job ties with none of its neighbours")
	}
	if err := h.client.Del(h.ctx, h.key("acme", "job", page[3].ID)).Err(); err != nil {
		t.Fatal(err)
	}
	rest, _ := listAll(t, h, "acme", jobs.ListFilter{Limit: 4, Cursor: next})
	if diff := cmp.Diff(want[4:], rest); diff != "" {
		t.Errorf("after the cursor's job expired (-want +got):\n%s", diff)
	}
}

func testListFilters(t *testing.T, h *harness) {
	all := seedList(t, h, "acme", 40)
	for _, f := range []jobs.ListFilter{
		{Status: jobs.Queued},
		{Status: jobs.Running},
		{Status: jobs.Failed},
		{Status: jobs.Succeeded},
		{Kind: jobs.Download},
		{Kind: jobs.Enrichment, Status: jobs.Queued},
		{Kind: jobs.Search, Status: jobs.Failed},
	} {
		want := idsOf(all, func(j jobs.Job) bool {
			return (f.Status == "" || j.Status == f.Status) && (f.Kind == "" || j.Kind == f.Kind)
		})
		for _, limit := range []int{2, 3, 50} {
			f.Limit = limit
			got, pages := listAll(t, h, "acme", f)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%+v (-want +got):\n%s", f, diff)
			}
			if limit == 2 && len(want) > 4 && pages <= 2 {
				t.Errorf("%+v: %d jobs in %d pages", f, len(want), pages)
			}
		}
	}
}

func testListLimits(t *testing.T, h *harness) {
	for i := range 501 {
		h.create(h.job("acme", fmt.Sprintf("job_%04d", i), jobs.Search, time.Duration(i)*time.Millisecond), nil)
	}
	for _, c := range []struct {
		limit, want int
	}{{0, 50}, {-3, 50}, {7, 7}, {500, 500}, {501, 500}, {10_000, 500}} {
		page, next, err := h.store.List(h.ctx, "acme", jobs.ListFilter{Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != c.want || next == "" {
			t.Errorf("Limit %d: %d jobs, next %q; want %d and a next page", c.limit, len(page), next, c.want)
		}
		if page[0].ID != "job_0500" {
			t.Errorf("Limit %d: first job %s, want the newest", c.limit, page[0].ID)
		}
	}
}

func testListEmpty(t *testing.T, h *harness) {
	page, next, err := h.store.List(h.ctx, "nobody", jobs.ListFilter{})
	if err != nil || page == nil || len(page) != 0 || next != "" {
		t.Errorf("List of an account with no jobs: %#v, %q, %v; want an empty list", page, next, err)
	}
	h.create(h.job("acme", "job_01", jobs.Search, 0), nil)
	page, _, err = h.store.List(h.ctx, "acme", jobs.ListFilter{Kind: jobs.Download})
	if err != nil || page == nil || len(page) != 0 {
		t.Errorf("List with a filter that matches nothing: %#v, %v; want an empty list", page, err)
	}
}

// testListStableUnderNews creates jobs between pages: they belong before the
// cursor, so later pages neither repeat nor skip a job.
func testListStableUnderNews(t *testing.T, h *harness) {
	all := seedList(t, h, "acme", 12)
	want := idsOf(all, func(jobs.Job) bool { return true })
	var got []string
	f := jobs.ListFilter{Limit: 5}
	for i := 0; ; i++ {
		page, next, err := h.store.List(h.ctx, "acme", f)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page {
			got = append(got, j.ID)
		}
		if next == "" {
			break
		}
		h.create(h.job("acme", fmt.Sprintf("job_new%d", i), jobs.Search, time.Hour), nil)
		f.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages with jobs created between them (-want +got):\n%s", diff)
	}
}

func testListProgress(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Download, 0), nil)
	h.move("acme", "job_01", jobs.Queued, jobs.Running)
	p := jobs.Progress{Done: 3, Total: 10}
	if err := h.store.SetProgress(h.ctx, "acme", "job_01", p); err != nil {
		t.Fatal(err)
	}
	page, _, err := h.store.List(h.ctx, "acme", jobs.ListFilter{})
	if err != nil || len(page) != 1 || page[0].Progress != p {
		t.Errorf("List of a running job: %+v, %v; want progress %v", page, err, p)
	}
}

// testExpiredSkipped lets an ended job expire: Get, Items and List no longer
// see it, and List drops its id from the index.
func testExpiredSkipped(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Enrichment, 0), []map[string]any{{"tracking_id": "t1"}})
	h.create(h.job("acme", "job_02", jobs.Search, time.Millisecond), nil)
	h.create(h.job("acme", "job_03", jobs.Search, 2*time.Millisecond), nil)
	h.move("acme", "job_02", jobs.Queued, jobs.Succeeded)
	h.move("acme", "job_02", jobs.Succeeded, jobs.Succeeded)
	h.expire("acme", "job_02")
	if h.fastForward != nil {
		// Only ended jobs expire; job_01 and job_03 are queued.
		if _, err := h.store.Get(h.ctx, "acme", "job_01"); err != nil {
			t.Errorf("a queued job expired: %v", err)
		}
	}
	if _, err := h.store.Get(h.ctx, "acme", "job_02"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Get of an expired job: %v, want ErrNotFound", err)
	}
	for range 2 {
		got, _ := listAll(t, h, "acme", jobs.ListFilter{Limit: 1})
		if diff := cmp.Diff([]string{"job_03", "job_01"}, got); diff != "" {
			t.Errorf("List with an expired job (-want +got):\n%s", diff)
		}
	}
	if ids, err := h.client.ZRange(h.ctx, h.key("acme", "jobs"), 0, -1).Result(); err != nil || slices.Contains(ids, "job_02") {
		t.Errorf("the index after List: %v (%v), want job_02 dropped", ids, err)
	}
	// The id is free again, and a job created anew under it stays indexed.
	h.create(h.job("acme", "job_02", jobs.Search, 3*time.Millisecond), nil)
	got, _ := listAll(t, h, "acme", jobs.ListFilter{})
	if diff := cmp.Diff([]string{"job_02", "job_03", "job_01"}, got); diff != "" {
		t.Errorf("List after reusing the id (-want +got):\n%s", diff)
	}
}

func testBadCursors(t *testing.T, h *harness) {
	seedList(t, h, "acme", 5)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []string{
		"!!!", "job_01", "a b",
		b64("123"), b64("abc:job_01"), b64("123:"), b64("123:a:b"), b64("123:{x}"), b64("1.5:job_01"),
		base64.StdEncoding.EncodeToString([]byte("123:job_01")) + "==",
	} {
		page, next, err := h.store.List(h.ctx, "acme", jobs.ListFilter{Cursor: c})
		if !errors.Is(err, jobs.ErrInvalidCursor) {
			t.Errorf("cursor %q: %d jobs, next %q, %v; want ErrInvalidCursor", c, len(page), next, err)
		}
	}
}

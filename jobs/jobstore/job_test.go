package jobstore_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditrun/creditrun/jobs"
)

func testCreateGetItems(t *testing.T, h *harness) {
	j := h.job("acme", "job_01", jobs.Enrichment, 0)
	j.MatchOn = []string{"name", "postalCode"}
	items := []map[string]any{
		{"tracking_id": "t1", "name": "Ada", "postalCode": "78744", "n": json.Number("12345678901234567890")},
		{"tracking_id": "t2", "name": "Bob", "nested": map[string]any{"a": []any{"x", true}}},
	}
	h.create(j, items)

	got, err := h.store.Get(h.ctx, "acme", "job_01")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(j, got, cmpopts.IgnoreFields(jobs.Job{}, "Rev")); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	gotItems, err := h.store.Items(h.ctx, "acme", "job_01")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(items, gotItems); diff != "" {
		t.Errorf("Items (-want +got):\n%s", diff)
	}

	// The same record again is the retry of a Create whose reply was lost.
	if err := h.store.Create(h.ctx, j, items); err != nil {
		t.Fatalf("Create of the same record again: %v, want nil", err)
	}
	again := h.job("acme", "job_01", jobs.Search, time.Hour)
	if err := h.store.Create(h.ctx, again, nil); !errors.Is(err, jobs.ErrJobExists) {
		t.Fatalf("Create of a taken id: %v, want ErrJobExists", err)
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_01"); got.Kind != jobs.Enrichment {
		t.Errorf("a refused Create changed the job: kind %s", got.Kind)
	}

	// A job without items has none, as an empty list.
	h.create(h.job("acme", "job_02", jobs.Search, 0), nil)
	none, err := h.store.Items(h.ctx, "acme", "job_02")
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("Items of a search: %#v, %v; want an empty list", none, err)
	}

	if _, err := h.store.Get(h.ctx, "acme", "job_404"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Get of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := h.store.Items(h.ctx, "acme", "job_404"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Items of an unknown id: %v, want ErrNotFound", err)
	}
}

func testCreateDefaults(t *testing.T, h *harness) {
	j := h.job("acme", "job_01", jobs.Search, 0)
	j.CreatedAt = time.Time{}
	h.create(j, nil)
	got, err := h.store.Get(h.ctx, "acme", "job_01")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(h.now) {
		t.Errorf("CreatedAt %v, want the store's now %v", got.CreatedAt, h.now)
	}

	bad := h.job("acme", "job_02", jobs.Search, 0)
	bad.Status = "paused"
	if err := h.store.Create(h.ctx, bad, nil); err == nil {
		t.Error("Create of a job with an unknown status succeeded")
	}
}

func testKeyLayout(t *testing.T, h *harness) {
	j := h.job("acme", "job_01", jobs.Enrichment, 0)
	h.create(j, []map[string]any{{"tracking_id": "t1"}})
	if err := h.store.SetProgress(h.ctx, "acme", "job_01", jobs.Progress{Done: 1, Total: 2}); err != nil {
		t.Fatal(err)
	}
	raw, err := h.client.Get(h.ctx, h.key("acme", "job", "job_01")).Bytes()
	if err != nil {
		t.Fatalf("the job's key: %v", err)
	}
	var stored jobs.Job
	if err := json.Unmarshal(raw, &stored); err != nil || stored.ID != "job_01" {
		t.Errorf("the job's key holds %s (%v), want the job as JSON", raw, err)
	}
	if s, err := h.client.Get(h.ctx, h.key("acme", "job", "job_01", "items")).Result(); err != nil || s != `[{"tracking_id":"t1"}]` {
		t.Errorf("the items key holds %q (%v)", s, err)
	}
	if m, err := h.client.HGetAll(h.ctx, h.key("acme", "job", "job_01", "progress")).Result(); err != nil || m["done"] != "1" || m["total"] != "2" {
		t.Errorf("the progress key holds %v (%v)", m, err)
	}
	score, err := h.client.ZScore(h.ctx, h.key("acme", "jobs"), "job_01").Result()
	if err != nil || int64(score) != j.CreatedAt.UnixMilli() {
		t.Errorf("the index scores job_01 %v (%v), want %d", score, err, j.CreatedAt.UnixMilli())
	}

	if err := h.store.CreateAccount(h.ctx, jobs.Account{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if n, err := h.client.Exists(h.ctx, h.key("acme", "profile")).Result(); err != nil || n != 1 {
		t.Errorf("the profile key: exists %d (%v)", n, err)
	}
}

func testOtherAccount(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Enrichment, 0), []map[string]any{{"tracking_id": "t1"}})
	if _, err := h.store.Get(h.ctx, "globex", "job_01"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Get by another account: %v, want ErrNotFound", err)
	}
	if _, err := h.store.Items(h.ctx, "globex", "job_01"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Items by another account: %v, want ErrNotFound", err)
	}
	_, err := h.store.Update(h.ctx, "globex", "job_01", []jobs.Status{jobs.Queued}, func(j *jobs.Job) { j.Status = jobs.Canceled })
	if !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Update by another account: %v, want ErrNotFound", err)
	}
	if err := h.store.SetProgress(h.ctx, "globex", "job_01", jobs.Progress{Done: 1}); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("SetProgress by another account: %v, want ErrNotFound", err)
	}
	page, _, err := h.store.List(h.ctx, "globex", jobs.ListFilter{})
	if err != nil || len(page) != 0 {
		t.Errorf("List of another account: %d jobs, %v", len(page), err)
	}
	if got, err := h.store.Get(h.ctx, "acme", "job_01"); err != nil || got.Status != jobs.Queued {
		t.Errorf("the owner's job after another account's calls: %s, %v", got.Status, err)
	}
}

func testProgress(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Download, 0), nil)
	h.move("acme", "job_01", jobs.Queued, jobs.Running)
	for _, p := range []jobs.Progress{{Done: 10, Total: 100}, {Done: 60, Total: 100}} {
		if err := h.store.SetProgress(h.ctx, "acme", "job_01", p); err != nil {
			t.Fatal(err)
		}
		got, err := h.store.Get(h.ctx, "acme", "job_01")
		if err != nil || got.Progress != p {
			t.Fatalf("Get after SetProgress(%v): %v, %v", p, got.Progress, err)
		}
	}

	// fn sees the latest progress, and a redelivery that keeps the job
	// running keeps it too.
	var seen jobs.Progress
	j, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Running}, func(j *jobs.Job) {
		seen = j.Progress
		j.Attempts++
	})
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Progress{Done: 60, Total: 100}
	if seen != want || j.Progress != want {
		t.Errorf("Update saw %v and returned %v, want %v", seen, j.Progress, want)
	}
	// A running job's progress that fn changes is written.
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Running}, func(j *jobs.Job) {
		j.Progress = jobs.Progress{Done: 0, Total: 100}
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_01"); got.Progress != (jobs.Progress{Done: 0, Total: 100}) {
		t.Errorf("progress after an Update reset it: %v", got.Progress)
	}

	// The end fixes the progress; later progress is refused.
	final := jobs.Progress{Done: 100, Total: 100}
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Running}, func(j *jobs.Job) {
		j.Status, j.Progress = jobs.Succeeded, final
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.SetProgress(h.ctx, "acme", "job_01", jobs.Progress{Done: 5, Total: 100}); !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("SetProgress of an ended job: %v, want ErrEnded", err)
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_01"); got.Progress != final {
		t.Errorf("progress of the ended job: %v, want %v", got.Progress, final)
	}
	if n, _ := h.client.Exists(h.ctx, h.key("acme", "job", "job_01", "progress")).Result(); n != 0 {
		t.Error("the progress hash outlived the job's end")
	}
	if err := h.store.SetProgress(h.ctx, "acme", "job_404", final); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("SetProgress of an unknown job: %v, want ErrNotFound", err)
	}
}

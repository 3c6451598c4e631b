package jobstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/creditrun/creditrun/jobs"
)

func testUpdateTransitions(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Search, 0), nil)
	started := h.now.Add(time.Minute)
	j, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Queued}, func(j *jobs.Job) {
		j.Status, j.StartedAt = jobs.Running, &started
		j.Attempts++
	})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != jobs.Running || j.Attempts != 1 {
		t.Errorf("Update returned %s attempts %d", j.Status, j.Attempts)
	}
	finished := h.now.Add(2 * time.Minute)
	records := []byte(`[{"id":"p1"}]`)
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Running}, func(j *jobs.Job) {
		j.Status, j.FinishedAt = jobs.Succeeded, &finished
		j.TotalCost, j.CreditsReleased, j.NumFound = 1, 9, 1
		j.Records = records
	}); err != nil {
		t.Fatal(err)
	}
	got, err := h.store.Get(h.ctx, "acme", "job_01")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != jobs.Succeeded || got.TotalCost != 1 || got.CreditsReleased != 9 || string(got.Records) != string(records) ||
		got.StartedAt == nil || !got.StartedAt.Equal(started) || got.FinishedAt == nil || !got.FinishedAt.Equal(finished) {
		t.Errorf("the succeeded job: %+v", got)
	}

	// Every allowed path from queued.
	for i, to := range []jobs.Status{jobs.Failed, jobs.Canceled} {
		id := "job_q" + string(rune('a'+i))
		h.create(h.job("acme", id, jobs.Search, 0), nil)
		if j := h.move("acme", id, jobs.Queued, to); j.Status != to {
			t.Errorf("%s: status %s, want %s", id, j.Status, to)
		}
	}
}

func testUpdateRefusals(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Search, 0), nil)
	h.move("acme", "job_01", jobs.Queued, jobs.Running)

	called := false
	_, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Queued}, func(*jobs.Job) { called = true })
	se, ok := errors.AsType[*jobs.StatusError](err)
	if !ok || se.Status != jobs.Running || se.ID != "job_01" {
		t.Fatalf("Update from queued of a running job: %v, want a *StatusError of running", err)
	}
	if errors.Is(err, jobs.ErrEnded) {
		t.Error("the StatusError of a running job says it ended")
	}
	if called {
		t.Error("fn ran although the status was not in from")
	}

	h.move("acme", "job_01", jobs.Running, jobs.Canceled)
	_, err = h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Queued, jobs.Running}, func(j *jobs.Job) { j.Status = jobs.Succeeded })
	if se, ok := errors.AsType[*jobs.StatusError](err); !ok || se.Status != jobs.Canceled || !errors.Is(err, jobs.ErrEnded) {
		t.Errorf("Update of a canceled job: %v, want a *StatusError of canceled that is ErrEnded", err)
	}

	// fn may not move the job to another id or account, nor to no status.
	h.create(h.job("acme", "job_02", jobs.Search, 0), nil)
	for name, fn := range map[string]func(*jobs.Job){
		"id":      func(j *jobs.Job) { j.ID = "job_03" },
		"account": func(j *jobs.Job) { j.Account = "globex" },
		"status":  func(j *jobs.Job) { j.Status = "paused" },
	} {
		if _, err := h.store.Update(h.ctx, "acme", "job_02", []jobs.Status{jobs.Queued}, fn); err == nil {
			t.Errorf("Update that changes the %s succeeded", name)
		}
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_02"); got.ID != "job_02" || got.Account != "acme" || got.Status != jobs.Queued {
		t.Errorf("a refused Update wrote the job: %+v", got)
	}

	_, err = h.store.Update(h.ctx, "acme", "job_404", []jobs.Status{jobs.Queued}, func(*jobs.Job) {})
	if !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Update of an unknown job: %v, want ErrNotFound", err)
	}
}

// testRaceOneWinner starts one job from many goroutines at once: exactly one
// moves it, every other one is told it is running.
func testRaceOneWinner(t *testing.T, h *harness) {
	const n = 32
	h.create(h.job("acme", "job_01", jobs.Download, 0), nil)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Queued}, func(j *jobs.Job) {
				j.Status = jobs.Running
				j.Attempts++
			})
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		if se, ok := errors.AsType[*jobs.StatusError](err); !ok || se.Status != jobs.Running {
			t.Errorf("a loser got %v, want a *StatusError of running", err)
		}
	}
	if won != 1 {
		t.Errorf("%d goroutines moved the job, want exactly 1", won)
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_01"); got.Attempts != 1 {
		t.Errorf("Attempts %d after the race, want 1", got.Attempts)
	}
}

// testRaceNoLostUpdate has many goroutines change a running job at once, each
// keeping it running: every change lands, none overwrites another.
func testRaceNoLostUpdate(t *testing.T, h *harness) {
	const n = 16
	h.create(h.job("acme", "job_01", jobs.Download, 0), nil)
	h.move("acme", "job_01", jobs.Queued, jobs.Running)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Running}, func(j *jobs.Job) { j.Attempts++ })
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if got, _ := h.store.Get(h.ctx, "acme", "job_01"); got.Attempts != n {
		t.Errorf("Attempts %d after %d concurrent increments", got.Attempts, n)
	}
}

func testTTLOnEnd(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Enrichment, 0), []map[string]any{{"tracking_id": "t1"}})
	jobKey, itemsKey := h.key("acme", "job", "job_01"), h.key("acme", "job", "job_01", "items")
	h.move("acme", "job_01", jobs.Queued, jobs.Running)
	for _, k := range []string{jobKey, itemsKey} {
		if ttl, err := h.client.PTTL(h.ctx, k).Result(); err != nil || ttl != -1 {
			t.Errorf("%s of a running job: TTL %v (%v), want none", k, ttl, err)
		}
	}
	h.move("acme", "job_01", jobs.Running, jobs.Failed)
	for _, k := range []string{jobKey, itemsKey} {
		if ttl, err := h.client.PTTL(h.ctx, k).Result(); err != nil || ttl <= 0 || ttl > retain {
			t.Errorf("%s of an ended job: TTL %v (%v), want up to %v", k, ttl, err, retain)
		}
	}

	// A job that ends while queued expires as well.
	h.create(h.job("acme", "job_02", jobs.Search, 0), nil)
	h.move("acme", "job_02", jobs.Queued, jobs.Canceled)
	if ttl, err := h.client.PTTL(h.ctx, h.key("acme", "job", "job_02")).Result(); err != nil || ttl <= 0 || ttl > retain {
		t.Errorf("a canceled queued job: TTL %v (%v)", ttl, err)
	}

	if h.fastForward != nil {
		h.fastForward(retain - time.Minute)
		if _, err := h.store.Get(h.ctx, "acme", "job_01"); err != nil {
			t.Errorf("Get before the TTL ran out: %v", err)
		}
		h.fastForward(2 * time.Minute)
		if _, err := h.store.Get(h.ctx, "acme", "job_01"); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Get after the TTL ran out: %v, want ErrNotFound", err)
		}
		if _, err := h.store.Items(h.ctx, "acme", "job_01"); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Items after the TTL ran out: %v, want ErrNotFound", err)
		}
	}
}

// testTTLKeptOnReupdate updates an ended job again: its TTL runs on, it does
// not start over.
func testTTLKeptOnReupdate(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Search, 0), nil)
	h.move("acme", "job_01", jobs.Queued, jobs.Succeeded)
	jobKey := h.key("acme", "job", "job_01")
	if err := h.client.PExpire(h.ctx, jobKey, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Update(h.ctx, "acme", "job_01", []jobs.Status{jobs.Succeeded}, func(j *jobs.Job) { j.HoldID = "hold_1" }); err != nil {
		t.Fatal(err)
	}
	if ttl, err := h.client.PTTL(h.ctx, jobKey).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL after updating an ended job: %v (%v), want the minute it had left", ttl, err)
	}
}

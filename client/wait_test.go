package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/creditrun/creditrun/client"
)

// TestWaitJobStopsOnContext waits for a job no worker runs: WaitJob polls
// with a growing interval until its context is canceled, then returns the
// last job it saw and the context's error.
func TestWaitJobStopsOnContext(t *testing.T) {
	s := newStack(t)
	account, c, sl := s.account(t, "people-1k-99")
	sub, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var polls int
	job, err := c.WaitJob(ctx, sub.Job.ID,
		client.WithPollInterval(100*time.Millisecond, 200*time.Millisecond),
		client.WithProgress(func(j *client.Job) {
			polls++
			if polls == 4 {
				cancel()
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitJob: %v, want context.Canceled", err)
	}
	if job == nil || job.ID != sub.Job.ID || job.Status != client.StatusQueued || polls != 4 {
		t.Fatalf("last job %+v after %d polls", job, polls)
	}
	waits := sl.all()
	if len(waits) != 3 {
		t.Fatalf("waits %v, want 3 between 4 polls", waits)
	}
	// 100ms, then 150ms, then 200ms at most, each less up to a quarter.
	for i, most := range []time.Duration{100, 150, 200} {
		most *= time.Millisecond
		if waits[i] < most*3/4 || waits[i] > most {
			t.Fatalf("wait %d is %s, want %s to %s", i+1, waits[i], most*3/4, most)
		}
	}

	// A job that ended is returned at the first poll, canceled or not.
	if _, err := c.CancelJob(t.Context(), sub.Job.ID); err != nil {
		t.Fatal(err)
	}
	job, err = c.WaitJob(t.Context(), sub.Job.ID)
	if err != nil || job.Status != client.StatusCanceled || len(sl.all()) != 3 {
		t.Fatalf("wait for a canceled job: %+v, %v; waits %v", job, err, sl.all())
	}
	s.check(t, account)
}

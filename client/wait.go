package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// The default polling of WaitJob.
const (
	DefaultPollFirst = 500 * time.Millisecond
	DefaultPollMax   = 5 * time.Second
)

// WaitOption configures WaitJob.
type WaitOption func(*waitConfig)

type waitConfig struct {
	first, most time.Duration
	progress    func(*Job)
}

// WithProgress calls f with the job after each poll, the last one (the
// ended job) included. f runs on WaitJob's goroutine.
func WithProgress(f func(*Job)) WaitOption {
	return func(w *waitConfig) { w.progress = f }
}

// WithPollInterval sets the wait before the second poll (first) and the
// most between two polls (most); the wait grows by half at each poll, with
// jitter. Defaults to DefaultPollFirst and DefaultPollMax.
func WithPollInterval(first, most time.Duration) WaitOption {
	return func(w *waitConfig) { w.first, w.most = first, most }
}

// WaitJob polls GET /v1/jobs/{id} until the job has ended (succeeded,
// failed or canceled), and returns it; a failed or canceled job is no error
// (see Job.Status and Job.Error). It stops when ctx ends, returning the
// last job it saw (nil if none) and an error wrapping ctx.Err(). A poll
// that fails after the client's retries ends the wait with that error.
func (c *Client) WaitJob(ctx context.Context, id string, opts ...WaitOption) (*Job, error) {
	w := waitConfig{first: DefaultPollFirst, most: DefaultPollMax}
	for _, o := range opts {
		o(&w)
	}
	if w.first <= 0 {
		w.first = DefaultPollFirst
	}
	w.most = max(w.most, w.first)
	var last *Job
	interval := w.first
	for {
		j, err := c.GetJob(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return last, fmt.Errorf("creditrun client: wait for job %s: %w", id, ctx.Err())
			}
			return last, fmt.Errorf("creditrun client: wait for job %s: %w", id, err)
		}
		last = j
		if w.progress != nil {
			w.progress(j)
		}
		if j.Status.Ended() {
			return j, nil
		}
		// Jitter spreads the polls of many waiters: 75% to 100% of the
		// interval.
		d := interval - rand.N(interval/4+1)
		if err := c.retry.sleep(ctx, d); err != nil {
			return last, fmt.Errorf("creditrun client: wait for job %s: %w", id, err)
		}
		interval = min(interval+interval/2, w.most)
	}
}

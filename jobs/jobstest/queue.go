// Package jobstest holds what tests of the jobs service and of the API on
// top of it share.
package jobstest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/creditrun/creditrun/jobs"
)

// ErrQueueDown is what Queue.Enqueue returns while Fail is set.
var ErrQueueDown = errors.New("queue down")

// Queue is a jobs.Queue that records what it is asked and can be made to
// fail: the queue of tests whose subject is the service or the API, where
// asynq is tested elsewhere (package worker, and end to end). Safe for
// concurrent use.
type Queue struct {
	// Fail makes Enqueue return ErrQueueDown.
	Fail atomic.Bool

	mu       sync.Mutex
	enqueued []string
	canceled []string
}

var _ jobs.Queue = (*Queue)(nil)

// Enqueue records j's id, or returns ErrQueueDown while Fail is set.
func (q *Queue) Enqueue(_ context.Context, j jobs.Job) error {
	if q.Fail.Load() {
		return ErrQueueDown
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueued = append(q.enqueued, j.ID)
	return nil
}

// Cancel records j's id.
func (q *Queue) Cancel(_ context.Context, j jobs.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.canceled = append(q.canceled, j.ID)
	return nil
}

// Enqueued returns the ids of the jobs enqueued, in order.
func (q *Queue) Enqueued() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.enqueued)
}

// Canceled returns the ids of the jobs canceled, in order.
func (q *Queue) Canceled() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.canceled)
}

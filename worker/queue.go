package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
)

var _ jobs.Queue = (*Queue)(nil)

// DefaultMaxRetry is the retries of a job:run task after its first run,
// unless Queue.MaxRetry says otherwise. A worker that dies mid-task does not
// use one up (see NewServer).
const DefaultMaxRetry = 4

// Queue is the jobs.Queue on asynq: one job:run task per job, with the job id
// as task id, in queue "default".
type Queue struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	// MaxRetry is the retries of a task. Defaults to DefaultMaxRetry.
	MaxRetry int
}

// NewQueue returns a queue that enqueues through client and cancels through
// inspector.
func NewQueue(client *asynq.Client, inspector *asynq.Inspector) *Queue {
	return &Queue{client: client, inspector: inspector, MaxRetry: DefaultMaxRetry}
}

// Enqueue implements jobs.Queue. A task of the job's id that exists already
// (asynq.ErrTaskIDConflict) counts as success.
func (q *Queue) Enqueue(ctx context.Context, j jobs.Job) error {
	_, err := q.client.EnqueueContext(ctx, NewRunTaskOf(j),
		asynq.TaskID(j.ID), asynq.Queue(QueueName), asynq.MaxRetry(q.MaxRetry))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", j.ID, err)
	}
	return nil
}

// Cancel implements jobs.Queue: it deletes a task that waits (pending,
// scheduled or retry) and asks the worker running an active one to stop it
// (asynq's CancelProcessing). A task that is gone, or done, counts as
// success.
func (q *Queue) Cancel(ctx context.Context, j jobs.Job) error {
	info, err := q.inspector.GetTaskInfo(QueueName, j.ID)
	if gone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cancel %s: %w", j.ID, err)
	}
	if info.State != asynq.TaskStateActive {
		err := q.inspector.DeleteTask(QueueName, j.ID)
		if err == nil || gone(err) {
			return nil
		}
		// It may have become active since: stop it instead.
		if info, ierr := q.inspector.GetTaskInfo(QueueName, j.ID); ierr != nil || info.State != asynq.TaskStateActive {
			return fmt.Errorf("cancel %s: %w", j.ID, err)
		}
	}
	if err := q.inspector.CancelProcessing(j.ID); err != nil {
		return fmt.Errorf("cancel %s: %w", j.ID, err)
	}
	return nil
}

func gone(err error) bool {
	return errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound)
}

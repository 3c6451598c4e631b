package scheduler

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

const (
	// DefaultGrace is how old a reservation must be before the reaper looks
	// at it: a job being submitted right now has a reservation but no task
	// yet, and is never touched.
	DefaultGrace = 5 * time.Minute
	// DefaultDeadline is how long after its submission a job may still be
	// queued or running.
	DefaultDeadline = 24 * time.Hour
	// DefaultTaskQueue is the asynq queue of job tasks (worker.QueueName).
	DefaultTaskQueue = "default"
)

// ReaperLedger is what the reaper needs of the ledger.
type ReaperLedger interface {
	// OldReservations yields every open reservation, across every account,
	// made before the given time, a page of accounts at a time; it may yield
	// one twice. A failure to read ends it with its error.
	OldReservations(ctx context.Context, before time.Time) iter.Seq2[credit.Reservation, error]
	// Void releases what a job holds, with reason in the journal. Voiding a
	// voided reservation returns it unchanged. Returns
	// credit.ErrAlreadySettled for a settled reservation,
	// credit.ErrReservationNotFound, and credit.ErrReservationConflict.
	Void(ctx context.Context, account, pool, job, reason string) (credit.Reservation, error)
	// Reservation returns a job's reservation. Returns
	// credit.ErrReservationNotFound for an unknown one.
	Reservation(ctx context.Context, account, job string) (credit.Reservation, error)
	// Accounts returns every account id, in no order.
	Accounts(ctx context.Context) ([]string, error)
	// OldCharges yields the jobs of the charges sets (charges posted at
	// acceptance, and settled charges marked for refund), across every
	// account, added before the given time; it may yield one twice. A
	// failure to read ends it with its error.
	OldCharges(ctx context.Context, before time.Time) iter.Seq2[credit.Reservation, error]
}

var _ ReaperLedger = (*ledger.Redis)(nil)

// Tasks looks up a job's task in the queue.
type Tasks interface {
	// GetTaskInfo returns the task of this id in queue. Returns
	// asynq.ErrTaskNotFound or asynq.ErrQueueNotFound when it is gone.
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
}

var _ Tasks = (*asynq.Inspector)(nil)

// Jobs reads jobs and fails them.
type Jobs interface {
	// Get returns a job. Returns jobs.ErrNotFound for an unknown id.
	Get(ctx context.Context, account, id string) (jobs.Job, error)
	// Abandon fails a job whose task will not run it again, with reason, to
	// which it adds what became of the credits: an open reservation is
	// voided, a settle whose job was never completed is refunded, and a
	// charge at acceptance stands unless the job never started. Returns an
	// error wrapping jobs.ErrEnded when the job has ended.
	Abandon(ctx context.Context, account, id, reason string) (jobs.Job, error)
	// ActiveBefore returns the jobs of these accounts created before the
	// given time that have not ended.
	ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]jobs.JobRef, error)
	// FinishCharge refunds a marked charge whose job was never recorded or
	// failed keeping no charge, drops the mark of one whose job kept it,
	// and leaves one whose job has not ended; it reports whether it
	// refunded.
	FinishCharge(ctx context.Context, account, id string) (bool, error)
}

var _ Jobs = (*jobs.Service)(nil)

// ReaperConfig configures a Reaper.
type ReaperConfig struct {
	// Ledger holds the reservations. Required.
	Ledger ReaperLedger
	// Tasks looks up job tasks: the asynq Inspector. Required.
	Tasks Tasks
	// Jobs gets and fails jobs: the jobs service. Required.
	Jobs Jobs
	// Queue is the asynq queue of job tasks. Defaults to DefaultTaskQueue.
	Queue string
	// Grace is how old a reservation must be before it is looked at; a task
	// missing for less than this is not yet lost. Defaults to DefaultGrace.
	Grace time.Duration
	// Deadline is how long after its creation a job may be queued or
	// running before it is failed. Defaults to DefaultDeadline.
	Deadline time.Duration
}

func (c *ReaperConfig) validate() error {
	switch {
	case c.Ledger == nil:
		return errors.New("reaper: no ledger")
	case c.Tasks == nil:
		return errors.New("reaper: no tasks")
	case c.Jobs == nil:
		return errors.New("reaper: no jobs")
	case c.Grace < 0:
		return fmt.Errorf("reaper: grace %s", c.Grace)
	case c.Deadline < 0:
		return fmt.Errorf("reaper: deadline %s", c.Deadline)
	}
	if c.Queue == "" {
		c.Queue = DefaultTaskQueue
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Deadline == 0 {
		c.Deadline = DefaultDeadline
	}
	if c.Deadline < c.Grace {
		return fmt.Errorf("reaper: deadline %s is shorter than grace %s", c.Deadline, c.Grace)
	}
	return nil
}

// Reaper ends stranded jobs, those whose task was archived, whose task is
// gone, or which are past their deadline, and releases stranded
// reservations, those of jobs that have ended or were never recorded. It
// keeps no state and is safe for concurrent use; several Reapers, in one
// process or many, may reap at once, since ending a job is a
// compare-and-set and voiding is idempotent.
type Reaper struct {
	cfg ReaperConfig
}

// NewReaper returns a Reaper, or an error naming a missing or bad field of
// cfg.
func NewReaper(cfg ReaperConfig) (*Reaper, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Reaper{cfg: cfg}, nil
}

// reapPage is how many accounts one ActiveBefore call covers.
const reapPage = 500

// Reap looks at the open reservations made more than the grace period
// before now, and for each:
//   - a job queued or running whose task was archived, or is gone, or which
//     is past its deadline, is abandoned (jobs.Service.Abandon): failed with
//     a sentence saying why and what became of its credits (its task, if
//     any, is left alone: a worker that starts it finds the job ended);
//   - a job that has ended, or that was never recorded, has its reservation
//     voided through the ledger;
//   - a job whose task waits or runs, within its deadline, is untouched.
//
// It returns how many jobs it failed or reservations it voided. A job
// another reaper or a worker ended first is not counted and is no error
// (two reapers that void the reservation of an ended job at the same moment
// may both count it; the ledger voids it once). It walks every account, a
// page at a time, so a stranded reservation is never hidden behind healthy
// long-running ones.
//
// It then looks the same way at every other job created more than the
// grace period before now that has not ended, whatever became of its
// reservation: a job charged at acceptance has none open, one whose
// reservation was released without the job being marked is not among the
// reservations, and neither is one whose worker settled it and died before
// recording it. Those are abandoned by the same rules; the last is refunded,
// since the job shows no results.
//
// Last, it finishes the charges marked in the ledger more than the grace
// period before now (jobs.Service.FinishCharge): a charge posted at
// acceptance whose job was never recorded, or a refund that a crash or a
// lost reply cut short, is refunded, keyed by the job, so never twice.
//
// A reservation or job it cannot handle is joined into the error and Reap
// goes on; a failure to read the reservations or the jobs ends it.
func (r *Reaper) Reap(ctx context.Context, now time.Time) (reaped int, err error) {
	var errs []error
	cutoff := now.Add(-r.cfg.Grace)
	defer func() {
		n, cerr := r.finishCharges(ctx, cutoff)
		reaped += n
		err = errors.Join(err, cerr)
	}()
	seen := map[jobs.JobRef]bool{} // the jobs of open reservations, looked at already
	for res, err := range r.cfg.Ledger.OldReservations(ctx, cutoff) {
		if err != nil {
			return reaped, errors.Join(append(errs, fmt.Errorf("reap: %w", err))...)
		}
		if err := ctx.Err(); err != nil {
			return reaped, errors.Join(append(errs, err)...)
		}
		seen[jobs.JobRef{Account: res.Account, ID: res.JobID}] = true
		done, err := r.reap(ctx, now, res)
		if err != nil {
			errs = append(errs, fmt.Errorf("reap %s/%s: %w", res.Account, res.JobID, err))
		}
		if done {
			reaped++
		}
	}

	accounts, err := r.cfg.Ledger.Accounts(ctx)
	if err != nil {
		return reaped, errors.Join(append(errs, fmt.Errorf("reap: %w", err))...)
	}
	for page := range slices.Chunk(accounts, reapPage) {
		refs, err := r.cfg.Jobs.ActiveBefore(ctx, page, cutoff)
		if err != nil {
			return reaped, errors.Join(append(errs, fmt.Errorf("reap: %w", err))...)
		}
		for _, ref := range refs {
			if err := ctx.Err(); err != nil {
				return reaped, errors.Join(append(errs, err)...)
			}
			if seen[ref] {
				continue
			}
			done, err := r.reapJob(ctx, now, ref)
			if err != nil {
				errs = append(errs, fmt.Errorf("reap %s/%s: %w", ref.Account, ref.ID, err))
			}
			if done {
				reaped++
			}
		}
	}
	return reaped, errors.Join(errs...)
}

// finishCharges finishes the marked charges older than cutoff and returns
// how many it refunded.
func (r *Reaper) finishCharges(ctx context.Context, cutoff time.Time) (int, error) {
	var errs []error
	refunded := 0
	for res, err := range r.cfg.Ledger.OldCharges(ctx, cutoff) {
		if err != nil {
			return refunded, errors.Join(append(errs, fmt.Errorf("reap charges: %w", err))...)
		}
		if err := ctx.Err(); err != nil {
			return refunded, errors.Join(append(errs, err)...)
		}
		done, err := r.cfg.Jobs.FinishCharge(ctx, res.Account, res.JobID)
		if err != nil {
			errs = append(errs, fmt.Errorf("reap charge %s/%s: %w", res.Account, res.JobID, err))
		}
		if done {
			refunded++
		}
	}
	return refunded, errors.Join(errs...)
}

// reapJob fails a job that has not ended if its task is gone or archived or
// it is past its deadline, and reports whether it did.
func (r *Reaper) reapJob(ctx context.Context, now time.Time, ref jobs.JobRef) (bool, error) {
	j, err := r.cfg.Jobs.Get(ctx, ref.Account, ref.ID)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case j.Status.Terminal():
		return false, nil // ended since the index was read, by the first walk or another
	}
	return r.fail(ctx, now, j)
}

// reap handles one open reservation and reports whether it ended it.
func (r *Reaper) reap(ctx context.Context, now time.Time, res credit.Reservation) (bool, error) {
	j, err := r.cfg.Jobs.Get(ctx, res.Account, res.JobID)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return r.void(ctx, res, "reaped: the job was never recorded")
	case err != nil:
		return false, err
	case j.Status.Terminal():
		return r.void(ctx, res, fmt.Sprintf("reaped: the job had ended (%s)", j.Status))
	}
	return r.fail(ctx, now, j)
}

// fail abandons j, queued or running, when its task is archived or gone or
// it is past its deadline, and reports whether it did.
func (r *Reaper) fail(ctx context.Context, now time.Time, j jobs.Job) (bool, error) {
	reason, err := r.reason(j, now)
	if err != nil || reason == "" {
		return false, err
	}
	_, err = r.cfg.Jobs.Abandon(ctx, j.Account, j.ID, reason)
	switch {
	case errors.Is(err, jobs.ErrEnded):
		return false, nil // another reaper, a cancel or the worker ended it first
	case err != nil:
		return false, err
	}
	return true, nil
}

// reason is the sentence a queued or running job is failed with, or "" for
// a job whose task waits or runs within its deadline.
func (r *Reaper) reason(j jobs.Job, now time.Time) (string, error) {
	info, err := r.cfg.Tasks.GetTaskInfo(r.cfg.Queue, j.ID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return "The job could not run: its task was lost.", nil
	case err != nil:
		return "", fmt.Errorf("task: %w", err)
	case info.State == asynq.TaskStateArchived:
		return "The job could not run: its task was archived " + attempts(j.Attempts) + ".", nil
	case info.State == asynq.TaskStateCompleted:
		// Completed with the job not ended: nothing will run it again.
		return "The job could not run: its task ended without finishing it.", nil
	case !now.Before(j.CreatedAt.Add(r.cfg.Deadline)):
		return "The job did not finish within " + hours(r.cfg.Deadline) + " of its submission.", nil
	}
	return "", nil
}

func attempts(n int) string {
	switch n {
	case 0:
		return "before it ran"
	case 1:
		return "after 1 attempt"
	}
	return fmt.Sprintf("after %d attempts", n)
}

// hours says d in hours when it is whole hours ("24 hours"), else as Go does.
func hours(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// void voids a reservation whose job will not fail it. The job may have
// ended since the reservation was read, voiding it on the way (another
// reaper's Fail, a cancel): then it is not counted.
func (r *Reaper) void(ctx context.Context, res credit.Reservation, reason string) (bool, error) {
	now, err := r.cfg.Ledger.Reservation(ctx, res.Account, res.JobID)
	if err != nil {
		return false, err
	}
	if now.State != credit.Reserved {
		return false, nil
	}
	_, err = r.cfg.Ledger.Void(ctx, res.Account, res.Pool, res.JobID, reason)
	switch {
	case errors.Is(err, credit.ErrAlreadySettled):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

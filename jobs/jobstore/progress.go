package jobstore

import (
	"context"
	"fmt"

	"github.com/creditrun/creditrun/jobs"
)

// SetProgress records how far a job is, in a hash beside the job's record:
// one small write that never touches the record itself. Get, Update and List
// lay it over the record.
//
// Returns an error wrapping jobs.ErrNotFound as Get does, and one wrapping
// jobs.ErrEnded when the job has ended (its progress is final then).
func (r *Redis) SetProgress(ctx context.Context, account, id string, p jobs.Progress) error {
	if err := checkJobID(account, id); err != nil {
		return fmt.Errorf("progress of %w", unknownJob(id, err))
	}
	n, err := reply(ctx, r.client, progressScript,
		[]string{r.keys.job(account, id), r.keys.progress(account, id)}, p.Done, p.Total)
	if err != nil {
		return fmt.Errorf("progress of job %s: %w", id, err)
	}
	switch n {
	case 0:
		return fmt.Errorf("progress of job %s: %w", id, jobs.ErrEnded)
	case -1:
		return fmt.Errorf("progress of %w", notFound(id))
	}
	return nil
}

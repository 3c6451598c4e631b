package jobstore

import (
	"context"
	"fmt"
	"time"

	"github.com/creditrun/creditrun/jobs"
)

// ActiveBefore returns the jobs of these accounts that were created before
// the given time and have not ended (queued or running), in one pipelined
// round trip: the reaper's second list, which finds a stranded job whatever
// became of its reservation (a charge at acceptance has none open).
// Malformed account ids are skipped.
func (r *Redis) ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]jobs.JobRef, error) {
	refs, err := r.indexedBefore(ctx, accounts, r.keys.active, before)
	if err != nil {
		return nil, fmt.Errorf("active jobs: %w", err)
	}
	return refs, nil
}

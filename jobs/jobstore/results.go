package jobstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
)

// ResultsSince returns the jobs of these accounts whose result files are kept
// and that finished at or after since, in one pipelined round trip. An
// entry may name a job whose record has just expired; Get tells.
func (r *Redis) ResultsSince(ctx context.Context, accounts []string, since time.Time) ([]jobs.JobRef, error) {
	refs, err := r.indexedSince(ctx, accounts, r.keys.results, since)
	if err != nil {
		return nil, fmt.Errorf("results since %s: %w", since, err)
	}
	return refs, nil
}

// ResultsDue returns the jobs of these accounts that finished before the
// given time and still have result files: the expiry's work. It reads every
// account's results index in one pipelined round trip, and checks the records
// in a second; an index entry whose record has expired is dropped, not
// returned. Malformed account ids are skipped.
func (r *Redis) ResultsDue(ctx context.Context, accounts []string, before time.Time) ([]jobs.JobRef, error) {
	due, err := r.indexedBefore(ctx, accounts, r.keys.results, before)
	if err != nil {
		return nil, fmt.Errorf("results due: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	exists := make([]*redis.IntCmd, len(due))
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ref := range due {
			exists[i] = p.Exists(ctx, r.keys.job(ref.Account, ref.ID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results due: %w", err)
	}
	kept := due[:0]
	stale := map[string][]string{}
	for i, ref := range due {
		if exists[i].Val() == 0 {
			stale[ref.Account] = append(stale[ref.Account], ref.ID)
			continue
		}
		kept = append(kept, ref)
	}
	for a, ids := range stale {
		if err := r.prune(ctx, a, r.keys.results(a), ids); err != nil {
			return nil, fmt.Errorf("results due: %w", err)
		}
	}
	return kept, nil
}

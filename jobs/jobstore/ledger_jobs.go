package jobstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
)

// LedgerJobs is the store as the ledger's audit reads it (ledger.Redis.Verify
// with VerifyOptions.Jobs): the jobs that have not ended, and the states of
// jobs by id, each in one pipelined round trip.
type LedgerJobs struct {
	store *Redis
}

var _ ledger.VerifyJobs = LedgerJobs{}

// LedgerJobs returns the store as the ledger's audit reads it.
func (r *Redis) LedgerJobs() LedgerJobs { return LedgerJobs{store: r} }

// ActiveBefore returns the jobs of these accounts created before the given
// time that have not ended, as Redis.ActiveBefore does.
func (lj LedgerJobs) ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]ledger.JobRef, error) {
	refs, err := lj.store.ActiveBefore(ctx, accounts, before)
	if err != nil {
		return nil, err
	}
	out := make([]ledger.JobRef, len(refs))
	for i, r := range refs {
		out[i] = ledger.JobRef{Account: r.Account, ID: r.ID}
	}
	return out, nil
}

// JobStates reads the records of refs in one pipeline of GETs (one round
// trip, or one per node on Cluster) and returns the state of each that
// exists. A record that does not decode is returned with its Problem set;
// a malformed id is left out, as a job that does not exist. Returns an
// error only when Redis fails.
func (lj LedgerJobs) JobStates(ctx context.Context, refs []ledger.JobRef) (map[ledger.JobRef]ledger.JobState, error) {
	out := make(map[ledger.JobRef]ledger.JobState, len(refs))
	cmds := make(map[ledger.JobRef]*redis.StringCmd, len(refs))
	pipe := lj.store.client.Pipeline()
	for _, ref := range refs {
		if _, dup := cmds[ref]; dup || checkJobID(ref.Account, ref.ID) != nil {
			continue
		}
		cmds[ref] = pipe.Get(ctx, lj.store.keys.job(ref.Account, ref.ID))
	}
	if len(cmds) == 0 {
		return out, nil
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for ref, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("job states (%d): job %s: %w", len(cmds), ref.ID, err)
		}
		out[ref] = jobState(data)
	}
	return out, nil
}

// jobState reads what the audit needs of a stored job.
func jobState(data []byte) ledger.JobState {
	var j jobs.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return ledger.JobState{Problem: "decode: " + err.Error()}
	}
	if !j.Status.Valid() {
		return ledger.JobState{Problem: fmt.Sprintf("unknown status %q", j.Status)}
	}
	s := ledger.JobState{Status: string(j.Status), Ended: j.Status.Terminal(), ChargeStands: j.ChargeStands()}
	if s.Ended && j.FinishedAt != nil {
		s.EndedAt = *j.FinishedAt
	}
	return s
}

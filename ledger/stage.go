package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// stageTTL is how long the records staged for a settle are kept after the
// last batch when no settle takes them (the attempt died); each batch starts
// it again.
const stageTTL = 6 * time.Hour

// StageRecords adds ids to the records that one attempt of a dedup job has
// delivered, kept in the ledger until the job's settle (SettleRequest.Staged)
// charges them, so that a job of millions of records holds none of them in
// memory nor sends them in one command. It returns how many of ids were not
// staged before: their sum over the attempt's calls is the settle's Cost.
// Each attempt stages apart, so a redelivery starts afresh. ids is not kept
// after the call. Returns an error wrapping credit.ErrInvalidID for a bad
// account or job id.
func (l *Redis) StageRecords(ctx context.Context, account, job string, attempt int, ids []string) (int64, error) {
	if err := checkIDs("account", account, "job", job); err != nil {
		return 0, err
	}
	if attempt < 1 {
		return 0, fmt.Errorf("stage records of %s: attempt %d: %w", job, attempt, credit.ErrInvalidAmount)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	key := l.keys.stage(account, job, attempt)
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	var added *redis.IntCmd
	_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		added = p.SAdd(ctx, key, members...)
		p.PExpire(ctx, key, stageTTL)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("stage records of %s: %w", job, err)
	}
	return added.Val(), nil
}

// DropStaged drops the records an attempt of a job staged, for an attempt
// that failed: its stage would otherwise wait for its TTL. A staged settle
// drops its stage too, and so does one that finds the job settled or voided
// already; Void does not (it does not know the attempt).
func (l *Redis) DropStaged(ctx context.Context, account, job string, attempt int) error {
	if err := checkIDs("account", account, "job", job); err != nil {
		return err
	}
	if err := l.client.Unlink(ctx, l.keys.stage(account, job, attempt)).Err(); err != nil {
		return fmt.Errorf("drop the records staged by %s: %w", job, err)
	}
	return nil
}

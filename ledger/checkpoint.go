package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// checkpointTries is how many times Checkpoint reads an account's pools and
// open reservations again when they changed before its script ran.
const checkpointTries = 5

var checkpointScript = loadScript("checkpoint.lua")

// CheckpointResult says what one Checkpoint did.
type CheckpointResult struct {
	// ID is the journal position of the account's latest checkpoint, empty
	// when it has none (an account without entries gets none).
	ID string
	// Written reports whether this call wrote the checkpoint: a call whose
	// key ran already, or whose journal ends with a checkpoint, writes none.
	Written bool
	// Trimmed is how many journal entries this call removed.
	Trimmed int64
}

// Checkpoint writes into an account's journal a checkpoint entry, which
// states every pool's balance and what each open reservation holds, and then
// trims the journal: the entries before the newest checkpoint dated before
// cut go, so the journal always starts with a checkpoint, or with the
// account's first entry, and holds every entry after it. A zero cut trims
// nothing. Both happen in one script, keyed by key (one per run, such as
// the day): a call with the key of the account's last run changes nothing
// and reports that run's checkpoint, so a retry after a lost reply is safe,
// and a journal whose last entry is a checkpoint gets no second one.
//
// Returns credit.ErrUnknownAccount, or an error wrapping
// credit.ErrInvalidID for an account id or key that is not one.
func (l *Redis) Checkpoint(ctx context.Context, account, key string, cut time.Time) (CheckpointResult, error) {
	if err := credit.CheckID("account", account); err != nil {
		return CheckpointResult{}, err
	}
	if err := credit.CheckID("checkpoint key", key); err != nil {
		return CheckpointResult{}, err
	}
	for range checkpointTries {
		pipe := l.client.Pipeline()
		poolsCmd := pipe.SMembers(ctx, l.keys.pools(account))
		pendingCmd := pipe.ZRange(ctx, l.keys.pending(account), 0, -1)
		if _, err := pipe.Exec(ctx); err != nil {
			return CheckpointResult{}, fmt.Errorf("checkpoint %s: read pools: %w", account, err)
		}
		pools, jobs := poolsCmd.Val(), pendingCmd.Val()
		keys := []string{l.keys.account(account), l.keys.pools(account), l.keys.journal(account),
			l.keys.checkpoints(account), l.keys.pending(account)}
		args := []any{key, l.now().UnixMilli(), unixMilli(cut), len(pools)}
		for _, p := range pools {
			keys = append(keys, l.keys.pool(account, p))
			args = append(args, p)
		}
		for _, j := range jobs {
			keys = append(keys, l.keys.reservation(account, j))
			args = append(args, j)
		}
		code, rest, err := l.run(ctx, checkpointScript, keys, args...)
		if err != nil {
			return CheckpointResult{}, fmt.Errorf("checkpoint %s: %w", account, err)
		}
		switch code {
		case "STALE":
			continue
		case "DONE":
			return CheckpointResult{ID: str(rest[0])}, nil
		case "OK":
			if len(rest) < 3 {
				return CheckpointResult{}, fmt.Errorf("checkpoint %s: short reply %v", account, rest)
			}
			return CheckpointResult{ID: str(rest[0]), Written: integer(rest[1]) == 1, Trimmed: integer(rest[2])}, nil
		default:
			return CheckpointResult{}, fmt.Errorf("checkpoint %s: %w", account, codeError(code, rest))
		}
	}
	return CheckpointResult{}, fmt.Errorf("checkpoint %s: its pools or open reservations changed on each of %d tries", account, checkpointTries)
}

// CheckpointStats counts what CheckpointAll did.
type CheckpointStats struct {
	// Accounts is how many accounts it checkpointed.
	Accounts int
	// Written is how many checkpoint entries it wrote.
	Written int
	// Trimmed is how many journal entries it removed.
	Trimmed int64
}

// CheckpointAll runs Checkpoint with key and cut on every account, a page of
// accounts at a time, so that the walk holds one page in memory. It goes on
// past an account that fails, and returns the first failure with what it
// did. Safe to run at any time, by any number of schedulers.
func (l *Redis) CheckpointAll(ctx context.Context, key string, cut time.Time) (CheckpointStats, error) {
	var st CheckpointStats
	var first error
	err := l.eachAccountPage(ctx, func(page []string) error {
		for _, a := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := l.Checkpoint(ctx, a, key, cut)
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			st.Accounts++
			if r.Written {
				st.Written++
			}
			st.Trimmed += r.Trimmed
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("checkpoint journals: %w", err)
	}
	if first != nil {
		return st, fmt.Errorf("checkpoint journals: %w", first)
	}
	return st, nil
}

// parseCheckpoint reads the state of a checkpoint entry's fields: pool:<name>
// and held:<job> (checkpoint.lua says how each is written).
func parseCheckpoint(v map[string]string) *credit.Checkpoint {
	c := &credit.Checkpoint{Pools: map[string]credit.Balance{}, Held: map[string]credit.Held{}}
	for k, x := range v {
		f := strings.Fields(x)
		// Checkpoints written before grants have 7 fields, the others 9.
		if name, ok := strings.CutPrefix(k, "pool:"); ok && (len(f) == 7 || len(f) == 9) {
			n := make([]int64, 9)
			for i := range f {
				n[i] = fieldInt(f[i])
			}
			b := credit.Balance{Counts: credit.Counts{Allocated: n[0], Used: n[1], Reserved: n[2],
				OverageReserved: n[3], OverageOutstanding: n[4], Carried: n[7], GrantsAvailable: n[8]}}
			if n[5] != 0 {
				b.PeriodStart = time.UnixMilli(n[5]).UTC()
			}
			if n[6] != 0 {
				b.PeriodEnd = time.UnixMilli(n[6]).UTC()
			}
			c.Pools[name] = b
		}
		if job, ok := strings.CutPrefix(k, "held:"); ok && len(f) == 3 {
			c.Held[job] = credit.Held{Pool: f[0], Prepaid: fieldInt(f[1]), Overage: fieldInt(f[2])}
		}
	}
	return c
}

// fieldInt reads an integer as i64 does, floats too.
func fieldInt(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(s, 64)
	return int64(f)
}

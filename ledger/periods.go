package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// The period index: per pool name, a sorted set of the accounts that have a
// pool of that name, scored by its period_end (unix ms). OpenPool and every
// Refresh write it after their script, applied or not, so an index entry that
// lags (a crash between script and ZADD) heals on the next refresh of the
// pool. An entry may lag behind the pool, never run ahead of it: a sweep that
// reads a stale entry refreshes a period that is already applied, which
// changes nothing and rewrites the entry.

// indexPeriod writes p's period_end into the index of its pool name.
func (l *Redis) indexPeriod(ctx context.Context, p credit.Pool) error {
	return l.client.ZAdd(ctx, l.keys.periods(p.Name), redis.Z{
		Score: float64(p.PeriodEnd.UnixMilli()), Member: p.Account,
	}).Err()
}

// EndedPool is an entry of the period index: an account and the end of its
// pool's period, as indexed (it may lag behind the pool, never lead it).
type EndedPool struct {
	Account   string
	PeriodEnd time.Time
}

// PoolsEndedBefore returns, oldest period_end first, up to limit accounts
// whose pool of this name has, as indexed, a period that ended at or before
// t, skipping the first offset of them. A sweep passes as offset the number
// of accounts it has seen and left in place, since those it refreshes leave
// the range.
//
// Returns an error wrapping credit.ErrInvalidID for a malformed pool name, or
// credit.ErrInvalidAmount for a negative offset or a limit below 1.
func (l *Redis) PoolsEndedBefore(ctx context.Context, pool string, t time.Time, offset, limit int) ([]EndedPool, error) {
	if err := credit.CheckID("pool", pool); err != nil {
		return nil, err
	}
	if offset < 0 || limit < 1 {
		return nil, fmt.Errorf("pools ended before %s: offset %d, limit %d: %w", t, offset, limit, credit.ErrInvalidAmount)
	}
	zs, err := l.client.ZRangeByScoreWithScores(ctx, l.keys.periods(pool), &redis.ZRangeBy{
		Min:    "-inf",
		Max:    strconv.FormatInt(t.UnixMilli(), 10),
		Offset: int64(offset),
		Count:  int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("pools %s ended before %s: %w", pool, t, err)
	}
	ended := make([]EndedPool, len(zs))
	for i, z := range zs {
		ended[i] = EndedPool{Account: str(z.Member), PeriodEnd: time.UnixMilli(int64(z.Score)).UTC()}
	}
	return ended, nil
}

// RefreshItem is one refresh of a batch: the period [Start, End) of one
// account's pool.
type RefreshItem struct {
	Account, Pool string
	Start, End    time.Time
	// Schedule is the cron spec of the pool's plan, which the pool keeps so
	// that any call can start its next period on time; empty leaves the
	// pool's as it is.
	Schedule string
}

// RefreshResult is the outcome of one RefreshItem, as Refresh gives it: the
// pool after the call and whether this call applied the period, or Err.
type RefreshResult struct {
	Pool    credit.Pool
	Applied bool
	// Err is what Refresh would return for the item alone:
	// credit.ErrUnknownAccount, credit.ErrUnknownPool, an error wrapping
	// credit.ErrInvalidID or credit.ErrInvalidAmount, or a failure of its
	// script.
	Err error
}

// RefreshBatch applies Refresh to every item, its scripts pipelined in one
// round trip (one per node on Cluster), then writes the period index in a
// second pipeline. Results are in the order of items; an item's own failure
// is in its result. A script the server has not cached is run again once
// with EVAL, which caches it.
//
// Returns an error only when the index could not be written; the refreshes
// themselves are then done, and the next sweep rewrites the index.
func (l *Redis) RefreshBatch(ctx context.Context, items []RefreshItem) ([]RefreshResult, error) {
	results := make([]RefreshResult, len(items))
	if len(items) == 0 {
		return results, nil
	}
	now := l.now().UnixMilli()
	// Each item's token, the batch's and its place in it, lets a script that
	// go-redis reran, its first reply lost, report the refresh it applied the
	// first time (refresh.lua); the same item twice in a batch applies once.
	token := strconv.FormatUint(rand.Uint64(), 36) + ":"
	type call struct {
		i    int
		keys []string
		args []any
	}
	calls := make([]call, 0, len(items))
	for i, it := range items {
		if err := checkIDs("account", it.Account, "pool", it.Pool); err != nil {
			results[i].Err = err
			continue
		}
		if !it.End.After(it.Start) {
			results[i].Err = fmt.Errorf("refresh %s/%s: period %s to %s is empty: %w", it.Account, it.Pool, it.Start, it.End, credit.ErrInvalidAmount)
			continue
		}
		calls = append(calls, call{i: i,
			keys: []string{l.keys.account(it.Account), l.keys.pool(it.Account, it.Pool), l.keys.journal(it.Account), l.keys.outbox(it.Account)},
			args: []any{it.Pool, it.Start.UnixMilli(), it.End.UnixMilli(), now, token + strconv.Itoa(i), it.Schedule},
		})
	}
	cmds := make([]*redis.Cmd, len(calls))
	pipe := l.client.Pipeline()
	for j, c := range calls {
		cmds[j] = refreshScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	var retry []int
	for j, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			retry = append(retry, j)
		}
	}
	if len(retry) > 0 {
		pipe := l.client.Pipeline()
		for _, j := range retry {
			cmds[j] = refreshScript.Eval(ctx, pipe, calls[j].keys, calls[j].args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	index := l.client.Pipeline()
	indexed := 0
	for j, c := range calls {
		it, r := items[c.i], &results[c.i]
		v, err := cmds[j].Slice()
		if err != nil {
			r.Err = fmt.Errorf("refresh %s/%s: %w", it.Account, it.Pool, err)
			continue
		}
		code, rest := "", []any(nil)
		if len(v) > 0 {
			code, _ = v[0].(string)
			rest = v[1:]
		}
		if code != "OK" || len(rest) == 0 {
			r.Err = codeError(code, rest)
			continue
		}
		r.Pool = parsePool(it.Account, it.Pool, fields(rest[1:]))
		r.Applied = integer(rest[0]) == 1
		index.ZAdd(ctx, l.keys.periods(it.Pool), redis.Z{Score: float64(r.Pool.PeriodEnd.UnixMilli()), Member: it.Account})
		indexed++
	}
	if indexed > 0 {
		if _, err := index.Exec(ctx); err != nil {
			return results, fmt.Errorf("refresh batch: index periods: %w", err)
		}
	}
	return results, nil
}

// NextPeriodEnd returns the earliest period end, as indexed, of the pools
// of these names: when a refresh sweep next has work. It is the zero Time
// when no pool is indexed. One round trip (one per node on Cluster).
func (l *Redis) NextPeriodEnd(ctx context.Context, pools []string) (time.Time, error) {
	return l.earliest(ctx, pools, l.keys.periods)
}

// NextGrantExpiry returns the earliest expiry, as indexed, of an active
// grant of the pools of these names: when grants are next due to expire.
// It is the zero Time when none expires.
func (l *Redis) NextGrantExpiry(ctx context.Context, pools []string) (time.Time, error) {
	return l.earliest(ctx, pools, l.keys.grantExpiries)
}

// earliest returns the lowest score of the sorted sets index(pool), as a
// time; zero when they are empty.
func (l *Redis) earliest(ctx context.Context, pools []string, index func(string) string) (time.Time, error) {
	if len(pools) == 0 {
		return time.Time{}, nil
	}
	pipe := l.client.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(pools))
	for i, pool := range pools {
		if err := credit.CheckID("pool", pool); err != nil {
			return time.Time{}, err
		}
		cmds[i] = pipe.ZRangeWithScores(ctx, index(pool), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return time.Time{}, fmt.Errorf("earliest of the index: %w", err)
	}
	var next int64
	for _, cmd := range cmds {
		if z := cmd.Val(); len(z) > 0 && z[0].Score > 0 && (next == 0 || int64(z[0].Score) < next) {
			next = int64(z[0].Score)
		}
	}
	if next == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(next).UTC(), nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// accountPage is how many accounts a walk over every account reads in one
// round trip.
const accountPage = 500

// errStopWalk ends eachAccountPage early, without an error.
var errStopWalk = errors.New("stop the walk")

// eachAccountPage calls fn with every account, a page at a time (SSCAN), so a
// walk holds one page in memory however many accounts there are. As SSCAN
// does, it gives every account that stays registered throughout the walk,
// and may give one twice. fn returning errStopWalk ends the walk with nil.
func (l *Redis) eachAccountPage(ctx context.Context, fn func(page []string) error) error {
	var cursor uint64
	for {
		page, next, err := l.client.SScan(ctx, l.keys.accounts(), cursor, "", accountPage).Result()
		if err != nil {
			return fmt.Errorf("accounts: %w", err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				if errors.Is(err, errStopWalk) {
					return nil
				}
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ReindexPeriods adds to the period index every pool that is missing from
// it, with its current period_end: a crash between OpenPool's script and its
// index write would otherwise leave the pool out of every refresh sweep. An
// entry already there is left alone, since one that lags heals on the sweep.
// It reads three round trips per page of accounts, and returns how many
// entries it added. Safe to run at any time, by any number of schedulers.
func (l *Redis) ReindexPeriods(ctx context.Context) (added int, err error) {
	err = l.eachAccountPage(ctx, func(accounts []string) error {
		pipe := l.client.Pipeline()
		names := make([]*redis.StringSliceCmd, len(accounts))
		for i, a := range accounts {
			names[i] = pipe.SMembers(ctx, l.keys.pools(a))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reindex periods: %w", err)
		}
		type poolEnd struct {
			account, pool string
			end           *redis.StringCmd
		}
		var ends []poolEnd
		pipe = l.client.Pipeline()
		for i, a := range accounts {
			for _, p := range names[i].Val() {
				ends = append(ends, poolEnd{a, p, pipe.HGet(ctx, l.keys.pool(a, p), "period_end")})
			}
		}
		if len(ends) == 0 {
			return nil
		}
		if err := execAllowingNil(ctx, pipe); err != nil {
			return fmt.Errorf("reindex periods: %w", err)
		}
		pipe = l.client.Pipeline()
		var adds []*redis.IntCmd
		for _, e := range ends {
			ms, err := strconv.ParseInt(e.end.Val(), 10, 64)
			if err != nil {
				continue // a pool being opened right now: its own write indexes it
			}
			adds = append(adds, pipe.ZAddNX(ctx, l.keys.periods(e.pool), redis.Z{Score: float64(ms), Member: e.account}))
		}
		if len(adds) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reindex periods: %w", err)
		}
		for _, c := range adds {
			added += int(c.Val())
		}
		return nil
	})
	return added, err
}

// execAllowingNil runs pipe and returns the first error of its commands
// other than redis.Nil (a missing field or key), which Exec alone would stop
// at, hiding any later real failure.
func execAllowingNil(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, _ := pipe.Exec(ctx)
	for _, c := range cmds {
		if err := c.Err(); err != nil && !isNil(err) {
			return err
		}
	}
	return nil
}

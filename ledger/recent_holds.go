package ledger

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// holdPage is how many holds RecentHolds reads in one round trip.
const holdPage = 500

// RecentHolds yields the holds opened at or after since, oldest first, from
// the global hold index, a page of holdPage at a time (three round trips a
// page), so that a pass costs what the recent holds cost however many older
// ones there are. A hold opened during the walk is yielded too, since it
// sorts last. A failure to read ends the sequence with its error.
func (l *Redis) RecentHolds(ctx context.Context, since time.Time) iter.Seq2[credit.Hold, error] {
	return func(yield func(credit.Hold, error) bool) {
		minScore := strconv.FormatInt(unixMilli(since), 10)
		for offset := int64(0); ; offset += holdPage {
			ids, err := l.client.ZRangeByScore(ctx, l.keys.holdIndex(), &redis.ZRangeBy{
				Min: minScore, Max: "+inf", Offset: offset, Count: holdPage,
			}).Result()
			if err != nil {
				yield(credit.Hold{}, fmt.Errorf("recent holds: %w", err))
				return
			}
			holds, err := l.holdsByID(ctx, ids)
			if err != nil {
				yield(credit.Hold{}, fmt.Errorf("recent holds: %w", err))
				return
			}
			for _, h := range holds {
				if !yield(h, nil) {
					return
				}
			}
			if len(ids) < holdPage {
				return
			}
		}
	}
}

// holdsByID reads the holds of ids, in order, in two round trips; an id
// whose account or hold is unknown is left out.
func (l *Redis) holdsByID(ctx context.Context, ids []string) ([]credit.Hold, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	v, err := l.client.HMGet(ctx, l.keys.holdAccounts(), ids...).Result()
	if err != nil {
		return nil, err
	}
	accounts := make([]string, len(ids))
	for i, a := range v {
		accounts[i], _ = a.(string)
	}
	return l.readHolds(ctx, accounts, ids)
}

// readHolds reads the holds of ids, of accounts[i] each, in order, in one
// round trip; a hold of an unknown account ("") or that does not exist is
// left out.
func (l *Redis) readHolds(ctx context.Context, accounts, ids []string) ([]credit.Hold, error) {
	pipe := l.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, 0, len(ids))
	for i, id := range ids {
		if accounts[i] != "" {
			cmds = append(cmds, pipe.HGetAll(ctx, l.keys.hold(accounts[i], id)))
		}
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	holds := make([]credit.Hold, 0, len(cmds))
	for _, c := range cmds {
		if len(c.Val()) > 0 {
			holds = append(holds, parseHold(c.Val()))
		}
	}
	return holds, nil
}

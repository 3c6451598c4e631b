package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// ReservationsOlderThan returns up to limit open reservations, across every
// account, made before the given time: the reaper's candidates. Settled and
// voided reservations are never among them.
func (l *Redis) ReservationsOlderThan(ctx context.Context, before time.Time, limit int) ([]credit.Reservation, error) {
	accounts, err := l.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	maxScore := strconv.FormatInt(before.UnixMilli()-1, 10)
	var out []credit.Reservation
	for len(accounts) > 0 && len(out) < limit {
		n := min(len(accounts), 500)
		batch := accounts[:n]
		accounts = accounts[n:]
		pipe := l.client.Pipeline()
		jobs := make([]*redis.StringSliceCmd, len(batch))
		for i, a := range batch {
			jobs[i] = pipe.ZRangeByScore(ctx, l.keys.pending(a), &redis.ZRangeBy{Min: "-inf", Max: maxScore, Count: int64(limit - len(out))})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("old reservations: %w", err)
		}
		pipe = l.client.Pipeline()
		type pendingCmd struct {
			account, job string
			cmd          *redis.MapStringStringCmd
		}
		var res []pendingCmd
		for i, a := range batch {
			for _, job := range jobs[i].Val() {
				res = append(res, pendingCmd{a, job, pipe.HGetAll(ctx, l.keys.reservation(a, job))})
			}
		}
		if len(res) == 0 {
			continue
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("old reservations: %w", err)
		}
		for _, p := range res {
			if len(out) == limit {
				break
			}
			if r := parseReservation(p.account, p.job, p.cmd.Val()); r.State == credit.Reserved {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

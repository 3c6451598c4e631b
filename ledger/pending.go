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

// OldReservations yields every open reservation, across every account, made
// before the given time: the reaper's candidates. Settled and voided
// reservations are never among them.
//
// It walks the accounts a page at a time, two round trips a page, so a pass
// holds one page in memory however many accounts there are. As SSCAN does,
// it yields every reservation that stays open throughout the walk, and may
// yield one twice; one opened during the walk may be missed until the next.
// A failure to read ends the sequence with its error.
func (l *Redis) OldReservations(ctx context.Context, before time.Time) iter.Seq2[credit.Reservation, error] {
	return l.scoredBefore(ctx, before, l.keys.pending, func(r credit.Reservation) bool { return r.State == credit.Reserved }, "old reservations")
}

// scoredBefore yields, walking the accounts a page at a time, the
// reservations of the jobs scored before the given time in the sorted set
// set(account) of each account, those keep reports true for (every one when
// keep is nil). A failure to read ends the sequence with its error, wrapped
// with what.
func (l *Redis) scoredBefore(ctx context.Context, before time.Time, set func(string) string, keep func(credit.Reservation) bool, what string) iter.Seq2[credit.Reservation, error] {
	return func(yield func(credit.Reservation, error) bool) {
		maxScore := strconv.FormatInt(before.UnixMilli()-1, 10)
		err := l.eachAccountPage(ctx, func(accounts []string) error {
			page, err := l.scoredReservations(ctx, accounts, set, maxScore)
			if err != nil {
				return err
			}
			for _, r := range page {
				if keep != nil && !keep(r) {
					continue
				}
				if !yield(r, nil) {
					return errStopWalk
				}
			}
			return nil
		})
		if err != nil {
			yield(credit.Reservation{}, fmt.Errorf("%s: %w", what, err))
		}
	}
}

// scoredReservations returns the reservations of the jobs scored at or below
// maxScore in the sorted set set(account) of each of accounts, in two round
// trips. A job whose reservation is gone comes back with its account and
// job id only, and no state.
func (l *Redis) scoredReservations(ctx context.Context, accounts []string, set func(string) string, maxScore string) ([]credit.Reservation, error) {
	if len(accounts) == 0 {
		return nil, nil
	}
	pipe := l.client.Pipeline()
	jobs := make([]*redis.StringSliceCmd, len(accounts))
	for i, a := range accounts {
		jobs[i] = pipe.ZRangeByScore(ctx, set(a), &redis.ZRangeBy{Min: "-inf", Max: maxScore})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("sorted sets: %w", err)
	}
	type resCmd struct {
		account, job string
		cmd          *redis.MapStringStringCmd
	}
	var cmds []resCmd
	pipe = l.client.Pipeline()
	for i, a := range accounts {
		for _, job := range jobs[i].Val() {
			cmds = append(cmds, resCmd{a, job, pipe.HGetAll(ctx, l.keys.reservation(a, job))})
		}
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	out := make([]credit.Reservation, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, parseReservation(c.account, c.job, c.cmd.Val()))
	}
	return out, nil
}

// ReservationsOlderThan returns up to limit of the reservations
// OldReservations yields.
func (l *Redis) ReservationsOlderThan(ctx context.Context, before time.Time, limit int) ([]credit.Reservation, error) {
	var out []credit.Reservation
	if limit < 1 {
		return out, nil
	}
	for r, err := range l.OldReservations(ctx, before) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

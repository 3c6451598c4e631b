package ledger

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// holdChunk is how many holds EachHold reads at a time; a variable for
// the tests of its edges.
var holdChunk = 1000

// EachHold calls fn with every hold that f selects by status and account,
// newest first, as ListHolds orders them; f's cursor and limit play no part.
// It reads holdChunk holds at a time, walking the index by score, so that
// the holds of an export of any size are never all in memory. It stops at
// fn's first error and returns it. A hold opened while the walk goes on may
// be left out, and one whose status changes meanwhile is given as read.
//
// Returns, before fn is called, an error wrapping credit.ErrInvalidStatus
// for an unknown status or credit.ErrInvalidID for a bad account id.
func (l *Redis) EachHold(ctx context.Context, f HoldFilter, fn func(credit.Hold) error) error {
	if f.Status != "" && !f.Status.Valid() {
		return fmt.Errorf("%w: %q", credit.ErrInvalidStatus, f.Status)
	}
	index := l.keys.holdIndex()
	switch {
	case f.Account != "":
		if err := credit.CheckID("account", f.Account); err != nil {
			return err
		}
		index = l.keys.holds(f.Account)
	case f.Status != "":
		index = l.keys.holdsIn(string(f.Status))
	}
	// Each chunk starts at the score the last one ended on, past the ids
	// it already gave with that score: holds opened in the same millisecond
	// are neither given twice nor skipped at a chunk's edge.
	top, skip := "+inf", int64(0)
	for {
		zs, err := l.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: index, Start: top, Stop: "-inf", ByScore: true, Rev: true, Offset: skip, Count: int64(holdChunk),
		}).Result()
		if err != nil {
			return fmt.Errorf("each hold: %w", err)
		}
		if len(zs) == 0 {
			return nil
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		holds, err := l.chunkOfHolds(ctx, f.Account, ids)
		if err != nil {
			return fmt.Errorf("each hold: %w", err)
		}
		for _, h := range holds {
			if f.Status != "" && h.Status != f.Status {
				continue // the index lags the hold: given under its own status only
			}
			if err := fn(h); err != nil {
				return err
			}
		}
		last := strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
		same := int64(0)
		for _, z := range zs {
			if strconv.FormatFloat(z.Score, 'f', -1, 64) == last {
				same++
			}
		}
		if last == top {
			skip += same
		} else {
			top, skip = last, same
		}
		if len(zs) < holdChunk {
			return nil
		}
	}
}

// chunkOfHolds reads the holds of ids, of account, or each of its own
// account when account is empty.
func (l *Redis) chunkOfHolds(ctx context.Context, account string, ids []string) ([]credit.Hold, error) {
	if account == "" {
		return l.holdsByID(ctx, ids)
	}
	accounts := make([]string, len(ids))
	for i := range accounts {
		accounts[i] = account
	}
	return l.readHolds(ctx, accounts, ids)
}

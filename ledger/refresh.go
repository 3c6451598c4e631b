package ledger

import (
	"context"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Refresh starts a pool's period [start, end) at most once: used resets,
// allocated becomes the grant (no rollover), reservations in flight carry over
// and overage debt stays. A period that does not start after the pool's
// current one changes nothing and returns applied false, so any number of
// schedulers may call it, late or twice. Where reservations carried over hold
// more than the grant, allocated is set to what they hold, so that available
// never goes negative. Applied or not, it then writes the pool's period end
// into the period index (PoolsEndedBefore).
//
// Returns credit.ErrUnknownAccount, credit.ErrUnknownPool, or an error
// wrapping credit.ErrInvalidID or credit.ErrInvalidAmount (an empty period).
func (l *Redis) Refresh(ctx context.Context, account, pool string, start, end time.Time) (credit.Pool, bool, error) {
	res, err := l.RefreshBatch(ctx, []RefreshItem{{Account: account, Pool: pool, Start: start, End: end}})
	if res[0].Err != nil {
		return credit.Pool{}, false, res[0].Err
	}
	if err != nil {
		return credit.Pool{}, false, err
	}
	return res[0].Pool, res[0].Applied, nil
}

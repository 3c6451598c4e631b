package ledger

import (
	"context"
	"fmt"
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
func (l *Redis) Refresh(ctx context.Context, account, pool string, start, end time.Time) (p credit.Pool, applied bool, err error) {
	if err := checkIDs("account", account, "pool", pool); err != nil {
		return credit.Pool{}, false, err
	}
	if !end.After(start) {
		return credit.Pool{}, false, fmt.Errorf("refresh %s/%s: period %s to %s is empty: %w", account, pool, start, end, credit.ErrInvalidAmount)
	}
	code, rest, err := l.run(ctx, refreshScript,
		[]string{l.keys.account(account), l.keys.pool(account, pool), l.keys.journal(account)},
		pool, start.UnixMilli(), end.UnixMilli(), l.now().UnixMilli())
	if err != nil {
		return credit.Pool{}, false, fmt.Errorf("refresh %s/%s: %w", account, pool, err)
	}
	if code != "OK" || len(rest) == 0 {
		return credit.Pool{}, false, codeError(code, rest)
	}
	p = parsePool(account, pool, fields(rest[1:]))
	// Indexed whether applied or not: a crash between the script and the
	// index heals on the next call.
	if err := l.indexPeriod(ctx, p); err != nil {
		return credit.Pool{}, false, fmt.Errorf("refresh %s/%s: %w", account, pool, err)
	}
	return p, integer(rest[0]) == 1, nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// indexHold adds the hold a reservation opened, if any, to the global hold
// indexes that finance lists across accounts: by creation, and by its status
// as read after the settle. It is idempotent and runs after every reserve
// and settle call, so a crash between a script and the index heals when the
// call is repeated; ReindexHolds heals the rest.
func (l *Redis) indexHold(ctx context.Context, r credit.Reservation) error {
	if r.HoldID == "" {
		return nil
	}
	z := redis.Z{Score: float64(unixMilli(r.EndedAt)), Member: r.HoldID}
	pipe := l.client.Pipeline()
	pipe.HSet(ctx, l.keys.holdAccounts(), r.HoldID, r.Account)
	pipe.ZAdd(ctx, l.keys.holdIndex(), z)
	status := pipe.HGet(ctx, l.keys.hold(r.Account, r.HoldID), "status")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index hold %s: %w", r.HoldID, err)
	}
	pipe = l.client.Pipeline()
	l.indexHoldStatus(ctx, pipe, z, credit.HoldStatus(status.Val()))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index hold %s: %w", r.HoldID, err)
	}
	return nil
}

// indexHoldStatus queues on pipe hold z's entry in the index of status. A
// hold is unpaid first, then paid or waived for good, so the moves go one
// way: a closed hold leaves the unpaid index, and nothing ever leaves the
// paid or waived ones. A status read just before a concurrent pay thus never
// takes the hold out of the paid index; at worst it leaves a stale unpaid
// entry, which listings skip (they check each hold's status) and the next
// ReindexHolds drops. An unknown status queues nothing.
func (l *Redis) indexHoldStatus(ctx context.Context, pipe redis.Pipeliner, z redis.Z, status credit.HoldStatus) {
	switch status {
	case credit.HoldUnpaid:
		pipe.ZAdd(ctx, l.keys.holdsIn(string(credit.HoldUnpaid)), z)
	case credit.HoldPaid, credit.HoldWaived:
		pipe.ZAdd(ctx, l.keys.holdsIn(string(status)), z)
		pipe.ZRem(ctx, l.keys.holdsIn(string(credit.HoldUnpaid)), z.Member)
	}
}

// ReindexHolds adds every hold of every account to the global hold indexes,
// and moves each into the index of its status. It heals indexes that a
// crash left behind; it is safe to run at any time. It reads three round
// trips per page of accounts.
func (l *Redis) ReindexHolds(ctx context.Context) error {
	return l.eachAccountPage(ctx, func(accounts []string) error {
		pipe := l.client.Pipeline()
		holds := make([]*redis.ZSliceCmd, len(accounts))
		for i, a := range accounts {
			holds[i] = pipe.ZRangeWithScores(ctx, l.keys.holds(a), 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reindex holds: %w", err)
		}
		type held struct {
			z      redis.Z
			status *redis.StringCmd
		}
		var all []held
		pipe = l.client.Pipeline()
		for i, a := range accounts {
			for _, z := range holds[i].Val() {
				pipe.HSet(ctx, l.keys.holdAccounts(), z.Member, a)
				pipe.ZAdd(ctx, l.keys.holdIndex(), z)
				all = append(all, held{z, pipe.HGet(ctx, l.keys.hold(a, str(z.Member)), "status")})
			}
		}
		if len(all) == 0 {
			return nil
		}
		if err := execAllowingNil(ctx, pipe); err != nil {
			return fmt.Errorf("reindex holds: %w", err)
		}
		pipe = l.client.Pipeline()
		for _, h := range all {
			l.indexHoldStatus(ctx, pipe, h.z, credit.HoldStatus(h.status.Val()))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reindex holds: %w", err)
		}
		return nil
	})
}

// Accounts returns every account id that has a pool, in no order.
func (l *Redis) Accounts(ctx context.Context) ([]string, error) {
	var all []string
	iter := l.client.SScan(ctx, l.keys.accounts(), 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return all, nil
}

// Hold returns one hold. Returns credit.ErrHoldNotFound for an unknown id.
func (l *Redis) Hold(ctx context.Context, id string) (credit.Hold, error) {
	account, err := l.holdAccount(ctx, id)
	if err != nil {
		return credit.Hold{}, err
	}
	m, err := l.client.HGetAll(ctx, l.keys.hold(account, id)).Result()
	if err != nil {
		return credit.Hold{}, fmt.Errorf("hold %s: %w", id, err)
	}
	if len(m) == 0 {
		return credit.Hold{}, credit.ErrHoldNotFound
	}
	return parseHold(m), nil
}

func (l *Redis) holdAccount(ctx context.Context, id string) (string, error) {
	if err := credit.CheckID("hold", id); err != nil {
		return "", err
	}
	account, err := l.client.HGet(ctx, l.keys.holdAccounts(), id).Result()
	if isNil(err) {
		return "", credit.ErrHoldNotFound
	}
	if err != nil {
		return "", fmt.Errorf("hold %s: %w", id, err)
	}
	return account, nil
}

// PayHold marks a hold paid with a payment reference and clears its credits
// from the pool's overage debt. Paying a paid hold returns it unchanged, with
// its first reference. Returns credit.ErrHoldNotFound, or
// credit.ErrHoldConflict for a waived hold; on any error nothing changed.
func (l *Redis) PayHold(ctx context.Context, id, paymentRef string) (credit.Hold, error) {
	return l.closeHold(ctx, id, credit.HoldPaid, paymentRef)
}

// WaiveHold marks a hold waived with a reason and clears its credits from the
// pool's overage debt. Waiving a waived hold returns it unchanged. Returns
// credit.ErrHoldNotFound, or credit.ErrHoldConflict for a paid hold; on any
// error nothing changed.
func (l *Redis) WaiveHold(ctx context.Context, id, reason string) (credit.Hold, error) {
	return l.closeHold(ctx, id, credit.HoldWaived, reason)
}

func (l *Redis) closeHold(ctx context.Context, id string, status credit.HoldStatus, note string) (credit.Hold, error) {
	h, err := l.Hold(ctx, id)
	if err != nil {
		return credit.Hold{}, err
	}
	a := h.Account
	code, rest, err := l.run(ctx, closeHoldScript, []string{
		l.keys.account(a), l.keys.pool(a, h.Pool), l.keys.hold(a, id), l.keys.journal(a), l.keys.outbox(a),
	}, string(status), note, l.now().UnixMilli())
	if err != nil {
		return credit.Hold{}, fmt.Errorf("%s hold %s: %w", status, id, err)
	}
	switch code {
	case "OK":
		closed := parseHold(fields(rest))
		pipe := l.client.Pipeline()
		l.indexHoldStatus(ctx, pipe, redis.Z{Score: float64(unixMilli(closed.CreatedAt)), Member: id}, closed.Status)
		// The hold is closed whatever becomes of its index entry: listings
		// check each hold's status, a repeated call moves it again, and
		// ReindexHolds moves it otherwise.
		_, _ = pipe.Exec(ctx)
		return closed, nil
	case "NOT_FOUND":
		return credit.Hold{}, credit.ErrHoldNotFound
	case "CONFLICT":
		return credit.Hold{}, fmt.Errorf("%w: hold %s is %s", credit.ErrHoldConflict, id, str(rest[0]))
	}
	return credit.Hold{}, fmt.Errorf("%s hold %s: %w", status, id, codeError(code, rest))
}

// HoldFilter selects holds to list. It lives in package credit, so that
// package jobs can name it without importing Redis.
type HoldFilter = credit.HoldFilter

// HoldPage is one page of holds, newest first.
type HoldPage = credit.HoldPage

// ListHolds lists holds by status and account, newest first. It reads every
// hold the filter's account has, or, across accounts, every hold of the
// filter's status (or of the whole index), so that TotalDueCents (the
// unpaid holds' amount due, whatever the status filtered) covers all
// pages: listing the unpaid holds costs what the unpaid holds cost, however
// many were paid before. Each hold's status is checked as read, so an index
// entry that lags never shows a hold under the wrong status. Returns an error
// wrapping credit.ErrInvalidCursor for a cursor not on the listing,
// credit.ErrInvalidStatus for an unknown status, or credit.ErrInvalidID for a
// bad account id.
func (l *Redis) ListHolds(ctx context.Context, f HoldFilter) (HoldPage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Status != "" && !f.Status.Valid() {
		return HoldPage{}, fmt.Errorf("%w: %q", credit.ErrInvalidStatus, f.Status)
	}
	var holds []credit.Hold
	if f.Account != "" {
		if err := credit.CheckID("account", f.Account); err != nil {
			return HoldPage{}, err
		}
		ids, err := l.client.ZRevRange(ctx, l.keys.holds(f.Account), 0, -1).Result()
		if err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
		accounts := make([]string, len(ids))
		for i := range accounts {
			accounts[i] = f.Account
		}
		if holds, err = l.readHolds(ctx, accounts, ids); err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
	} else {
		index := l.keys.holdIndex()
		if f.Status != "" {
			index = l.keys.holdsIn(string(f.Status))
		}
		ids, err := l.client.ZRevRange(ctx, index, 0, -1).Result()
		if err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
		if holds, err = l.holdsByID(ctx, ids); err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
	}
	page := HoldPage{Holds: []credit.Hold{}}
	started := f.Cursor == ""
	for _, h := range holds {
		if f.Status != "" && h.Status != f.Status {
			continue
		}
		if h.Status == credit.HoldUnpaid {
			// Due means unpaid: a paid or waived hold owes nothing,
			// whatever the filter lists.
			page.TotalDueCents += h.AmountDueCents
		}
		switch {
		case !started:
			started = h.ID == f.Cursor
		case len(page.Holds) < f.Limit:
			page.Holds = append(page.Holds, h)
		case page.NextCursor == "":
			page.NextCursor = page.Holds[len(page.Holds)-1].ID
		}
	}
	if !started {
		return HoldPage{}, fmt.Errorf("hold cursor %q: %w", f.Cursor, credit.ErrInvalidCursor)
	}
	return page, nil
}

func parseHold(m map[string]string) credit.Hold {
	return credit.Hold{
		ID:             m["id"],
		Account:        m["account"],
		JobID:          m["job"],
		Pool:           m["pool"],
		OverageCredits: i64(m, "credits"),
		AmountDueCents: i64(m, "due"),
		Status:         credit.HoldStatus(m["status"]),
		CreatedAt:      ms(m, "created_at"),
		PaidAt:         ms(m, "paid_at"),
		PaymentRef:     m["payment_ref"],
		WaiveReason:    m["waive_reason"],

		RefundDueCredits: i64(m, "refund_due"),
	}
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

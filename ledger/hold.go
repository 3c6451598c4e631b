package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// indexHold adds the hold a reservation opened, if any, to the global hold
// index that finance lists across accounts. It is idempotent and runs after
// every reserve and settle call, so a crash between a script and the index
// heals when the call is repeated; ReindexHolds heals the rest.
func (l *Redis) indexHold(ctx context.Context, r credit.Reservation) error {
	if r.HoldID == "" {
		return nil
	}
	pipe := l.client.Pipeline()
	pipe.HSet(ctx, l.keys.holdAccounts(), r.HoldID, r.Account)
	pipe.ZAdd(ctx, l.keys.holdIndex(), redis.Z{Score: float64(unixMilli(r.EndedAt)), Member: r.HoldID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index hold %s: %w", r.HoldID, err)
	}
	return nil
}

// ReindexHolds adds every hold of every account to the global hold index. It
// heals an index that a crash left behind; it is safe to run at any time.
func (l *Redis) ReindexHolds(ctx context.Context) error {
	accounts, err := l.Accounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		zs, err := l.client.ZRangeWithScores(ctx, l.keys.holds(a), 0, -1).Result()
		if err != nil {
			return fmt.Errorf("reindex holds of %s: %w", a, err)
		}
		if len(zs) == 0 {
			continue
		}
		pipe := l.client.Pipeline()
		for _, z := range zs {
			pipe.HSet(ctx, l.keys.holdAccounts(), z.Member, a)
			pipe.ZAdd(ctx, l.keys.holdIndex(), z)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reindex holds of %s: %w", a, err)
		}
	}
	return nil
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
		l.keys.account(a), l.keys.pool(a, h.Pool), l.keys.hold(a, id), l.keys.journal(a),
	}, string(status), note, l.now().UnixMilli())
	if err != nil {
		return credit.Hold{}, fmt.Errorf("%s hold %s: %w", status, id, err)
	}
	switch code {
	case "OK":
		return parseHold(fields(rest)), nil
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
// hold the filter's account (or the whole index) has, so that TotalDueCents
// covers all pages; holds are exceptions, not one per job. Returns an error
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
	var ids, accounts []string
	if f.Account != "" {
		if err := credit.CheckID("account", f.Account); err != nil {
			return HoldPage{}, err
		}
		var err error
		if ids, err = l.client.ZRevRange(ctx, l.keys.holds(f.Account), 0, -1).Result(); err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
		accounts = make([]string, len(ids))
		for i := range accounts {
			accounts[i] = f.Account
		}
	} else {
		var err error
		if ids, err = l.client.ZRevRange(ctx, l.keys.holdIndex(), 0, -1).Result(); err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
		if len(ids) > 0 {
			v, err := l.client.HMGet(ctx, l.keys.holdAccounts(), ids...).Result()
			if err != nil {
				return HoldPage{}, fmt.Errorf("list holds: %w", err)
			}
			accounts = make([]string, len(ids))
			for i, a := range v {
				accounts[i], _ = a.(string)
			}
		}
	}
	pipe := l.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, l.keys.hold(accounts[i], id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return HoldPage{}, fmt.Errorf("list holds: %w", err)
		}
	}
	page := HoldPage{Holds: []credit.Hold{}}
	started := f.Cursor == ""
	for _, cmd := range cmds {
		if len(cmd.Val()) == 0 {
			continue
		}
		h := parseHold(cmd.Val())
		if f.Status != "" && h.Status != f.Status {
			continue
		}
		page.TotalDueCents += h.AmountDueCents
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
	}
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

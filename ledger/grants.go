package ledger

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// AddGrant adds a block of credits to a pool, apart from its period
// allocation, once per grant id: adding an id that exists with the same
// terms returns that grant as it is now, with created false, and changes
// nothing. Returns credit.ErrGrantConflict when the id exists with other
// terms; credit.ErrUnknownAccount, credit.ErrUnknownPool; errors wrapping
// credit.ErrInvalidID or credit.ErrInvalidAmount for bad input. On any error
// nothing changed.
func (l *Redis) AddGrant(ctx context.Context, req credit.GrantRequest) (g credit.Grant, created bool, err error) {
	now := l.now()
	if err := req.Check(now); err != nil {
		return credit.Grant{}, false, err
	}
	a := req.Account
	code, rest, err := l.runPool(ctx, a, req.Pool, grantAddScript, l.grantKeys(a, req.Pool),
		req.ID, req.Pool, req.Amount, unixMilli(req.ExpiresAt), req.Priority, req.Reason, now.UnixMilli())
	if err != nil {
		return credit.Grant{}, false, fmt.Errorf("add grant %s: %w", req.ID, err)
	}
	if code != "OK" || len(rest) < 2 {
		return credit.Grant{}, false, fmt.Errorf("add grant %s: %w", req.ID, codeError(code, rest))
	}
	g, err = parseGrant(a, str(rest[1]))
	if err != nil {
		return credit.Grant{}, false, err
	}
	if err := l.indexGrantExpiry(ctx, a, req.Pool); err != nil {
		return g, integer(rest[0]) == 1, err
	}
	return g, integer(rest[0]) == 1, nil
}

// VoidGrant ends a grant at once: what it can still give is forfeited, with
// reason in the journal, and what jobs in flight hold from it stays theirs.
// Voiding a grant that has ended (voided or expired) returns it unchanged.
// Returns credit.ErrGrantNotFound for an id the account has not.
func (l *Redis) VoidGrant(ctx context.Context, account, id, reason string) (credit.Grant, error) {
	if err := checkIDs("account", account, "grant", id); err != nil {
		return credit.Grant{}, err
	}
	if len(reason) > credit.MaxReasonLen {
		return credit.Grant{}, fmt.Errorf("reason is longer than %d bytes: %w", credit.MaxReasonLen, credit.ErrInvalidAmount)
	}
	raw, err := l.client.HGet(ctx, l.keys.grants(account), id).Result()
	if errors.Is(err, redis.Nil) {
		return credit.Grant{}, credit.ErrGrantNotFound
	}
	if err != nil {
		return credit.Grant{}, fmt.Errorf("void grant %s: %w", id, err)
	}
	g, err := parseGrant(account, raw)
	if err != nil {
		return credit.Grant{}, err
	}
	code, rest, err := l.run(ctx, grantVoidScript, l.grantKeys(account, g.Pool),
		id, l.now().UnixMilli(), reason, g.Pool)
	if err != nil {
		return credit.Grant{}, fmt.Errorf("void grant %s: %w", id, err)
	}
	if code != "OK" || len(rest) < 1 {
		return credit.Grant{}, fmt.Errorf("void grant %s: %w", id, codeError(code, rest))
	}
	return parseGrant(account, str(rest[0]))
}

// Grant returns one grant of an account, or credit.ErrGrantNotFound.
func (l *Redis) Grant(ctx context.Context, account, id string) (credit.Grant, error) {
	if err := checkIDs("account", account, "grant", id); err != nil {
		return credit.Grant{}, err
	}
	if err := l.expireDue(ctx, account); err != nil {
		return credit.Grant{}, err
	}
	raw, err := l.client.HGet(ctx, l.keys.grants(account), id).Result()
	if errors.Is(err, redis.Nil) {
		return credit.Grant{}, credit.ErrGrantNotFound
	}
	if err != nil {
		return credit.Grant{}, fmt.Errorf("grant %s: %w", id, err)
	}
	return parseGrant(account, raw)
}

// Grants returns every grant of an account: the active ones first, in the
// order the pools spend them, then the ended ones, newest first. Grants
// whose expiry has come are expired first. Returns credit.ErrUnknownAccount
// for an account without pools.
func (l *Redis) Grants(ctx context.Context, account string) ([]credit.Grant, error) {
	if err := credit.CheckID("account", account); err != nil {
		return nil, err
	}
	if err := l.expireDue(ctx, account); err != nil {
		return nil, err
	}
	pipe := l.client.Pipeline()
	exists := pipe.Exists(ctx, l.keys.pools(account))
	all := pipe.HVals(ctx, l.keys.grants(account))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("grants of %s: %w", account, err)
	}
	if exists.Val() == 0 {
		return nil, credit.ErrUnknownAccount
	}
	gs := make([]credit.Grant, 0, len(all.Val()))
	for _, raw := range all.Val() {
		g, err := parseGrant(account, raw)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	SortGrants(gs)
	return gs, nil
}

// SortGrants puts grants in the order Grants lists them: the active ones
// first, in spending order (credit.GrantLess), then the ended ones, newest
// first.
func SortGrants(gs []credit.Grant) {
	slices.SortFunc(gs, func(a, b credit.Grant) int {
		aa, ba := a.Status == credit.GrantActive, b.Status == credit.GrantActive
		switch {
		case aa && !ba:
			return -1
		case !aa && ba:
			return 1
		case aa:
			if credit.GrantLess(a, b) {
				return -1
			}
			if credit.GrantLess(b, a) {
				return 1
			}
			return 0
		}
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
}

// ExpireGrants expires the grants of one pool whose expiry has come, each
// with its journal entry, and returns how many it expired. Running it again
// expires nothing more.
func (l *Redis) ExpireGrants(ctx context.Context, account, pool string) (int, error) {
	if err := checkIDs("account", account, "pool", pool); err != nil {
		return 0, err
	}
	code, rest, err := l.run(ctx, grantsExpireScript, l.grantKeys(account, pool), l.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("expire grants of %s/%s: %w", account, pool, err)
	}
	if code != "OK" || len(rest) < 1 {
		return 0, fmt.Errorf("expire grants of %s/%s: %w", account, pool, codeError(code, rest))
	}
	if err := l.indexGrantExpiry(ctx, account, pool); err != nil {
		return int(integer(rest[0])), err
	}
	return int(integer(rest[0])), nil
}

// expireDue expires the grants of every pool of the account whose earliest
// expiry has come, so that a read sees them ended. It reads the pools'
// earliest expiries in one round trip.
func (l *Redis) expireDue(ctx context.Context, account string) error {
	names, err := l.client.SMembers(ctx, l.keys.pools(account)).Result()
	if err != nil {
		return fmt.Errorf("pools of %s: %w", account, err)
	}
	pipe := l.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(names))
	for i, name := range names {
		cmds[i] = pipe.HGet(ctx, l.keys.pool(account, name), "grants_next_expiry")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("pools of %s: %w", account, err)
	}
	now := l.now().UnixMilli()
	for i, name := range names {
		if n, _ := cmds[i].Int64(); n > 0 && n <= now {
			if _, err := l.ExpireGrants(ctx, account, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// GrantsExpiringBefore returns up to limit accounts, after skipping offset,
// whose pool of this name has, as indexed, an active grant that expires at
// or before t.
func (l *Redis) GrantsExpiringBefore(ctx context.Context, pool string, t time.Time, offset, limit int) ([]string, error) {
	if err := credit.CheckID("pool", pool); err != nil {
		return nil, err
	}
	return l.client.ZRangeByScore(ctx, l.keys.grantExpiries(pool), &redis.ZRangeBy{
		Min: "1", Max: strconv.FormatInt(t.UnixMilli(), 10), Offset: int64(offset), Count: int64(limit),
	}).Result()
}

// indexGrantExpiry writes the pool's earliest grant expiry into the index of
// its pool name, or takes the account out of it when no grant expires.
func (l *Redis) indexGrantExpiry(ctx context.Context, account, pool string) error {
	n, err := l.client.HGet(ctx, l.keys.pool(account, pool), "grants_next_expiry").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("index grant expiry of %s/%s: %w", account, pool, err)
	}
	if n == 0 {
		return l.client.ZRem(ctx, l.keys.grantExpiries(pool), account).Err()
	}
	return l.client.ZAdd(ctx, l.keys.grantExpiries(pool), redis.Z{Score: float64(n), Member: account}).Err()
}

func (l *Redis) grantKeys(account, pool string) []string {
	return []string{l.keys.account(account), l.keys.pool(account, pool), l.keys.journal(account),
		l.keys.grants(account), l.keys.activeGrants(account, pool)}
}

// grantJSON is a grant as the scripts keep it.
type grantJSON struct {
	ID        string  `json:"id"`
	Pool      string  `json:"pool"`
	Amount    float64 `json:"amount"`
	Remaining float64 `json:"remaining"`
	Held      float64 `json:"held"`
	ExpiresAt float64 `json:"expires_at"`
	Priority  float64 `json:"priority"`
	Reason    string  `json:"reason"`
	CreatedAt float64 `json:"created_at"`
	Status    string  `json:"status"`
	EndedAt   float64 `json:"ended_at"`
}

func parseGrant(account, raw string) (credit.Grant, error) {
	var j grantJSON
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		return credit.Grant{}, fmt.Errorf("grant of %s does not decode: %w", account, err)
	}
	t := func(f float64) time.Time {
		if f == 0 {
			return time.Time{}
		}
		return time.UnixMilli(int64(f)).UTC()
	}
	return credit.Grant{ID: j.ID, Account: account, Pool: j.Pool, Amount: int64(j.Amount),
		Remaining: int64(j.Remaining), Held: int64(j.Held), ExpiresAt: t(j.ExpiresAt),
		Priority: int64(j.Priority), Reason: j.Reason, CreatedAt: t(j.CreatedAt),
		Status: credit.GrantStatus(j.Status), EndedAt: t(j.EndedAt)}, nil
}

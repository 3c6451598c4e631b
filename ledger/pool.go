package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// OpenPool opens a pool of an account with cfg and its first period, and
// registers the account. The period starts when the account is created and
// ends at its plan's next boundary. Opening a pool that exists changes nothing;
// created says whether this call opened it. Either way the pool's period end
// goes into the period index (PoolsEndedBefore).
//
// Returns an error wrapping credit.ErrInvalidID or credit.ErrInvalidAmount for
// bad input, with nothing changed.
func (l *Redis) OpenPool(ctx context.Context, account string, cfg credit.PoolConfig, periodStart, periodEnd time.Time) (p credit.Pool, created bool, err error) {
	if err := checkIDs("account", account, "pool", cfg.Name); err != nil {
		return credit.Pool{}, false, err
	}
	switch {
	case cfg.Grant < 0 || cfg.Grant > credit.MaxAmount:
		return credit.Pool{}, false, fmt.Errorf("grant %d: %w", cfg.Grant, credit.ErrInvalidAmount)
	case cfg.OverageLimit < 0 || cfg.OverageLimit > credit.MaxAmount:
		return credit.Pool{}, false, fmt.Errorf("overage limit %d: %w", cfg.OverageLimit, credit.ErrInvalidAmount)
	case cfg.OveragePriceCents < 0 || cfg.OveragePriceCents > credit.MaxAmount:
		return credit.Pool{}, false, fmt.Errorf("overage price %d: %w", cfg.OveragePriceCents, credit.ErrInvalidAmount)
	case !periodEnd.After(periodStart):
		return credit.Pool{}, false, fmt.Errorf("period %s to %s is empty: %w", periodStart, periodEnd, credit.ErrInvalidAmount)
	}
	if cfg.Schedule != "" {
		if _, err := schedule(cfg.Schedule); err != nil {
			return credit.Pool{}, false, fmt.Errorf("open pool %s/%s: schedule: %v: %w", account, cfg.Name, err, credit.ErrInvalidAmount)
		}
	}
	limit := cfg.OverageLimit
	if !cfg.OverageEnabled {
		limit = 0
	}
	// The account is registered before any of its state exists, so that a
	// sweep over accounts (the reaper, the hold index) never misses one.
	if err := l.client.SAdd(ctx, l.keys.accounts(), account).Err(); err != nil {
		return credit.Pool{}, false, fmt.Errorf("open pool %s/%s: %w", account, cfg.Name, err)
	}
	code, rest, err := l.run(ctx, openScript,
		[]string{l.keys.account(account), l.keys.pools(account), l.keys.pool(account, cfg.Name), l.keys.journal(account)},
		cfg.Name, cfg.Grant, flag(cfg.OverageEnabled), limit, cfg.OveragePriceCents,
		periodStart.UnixMilli(), periodEnd.UnixMilli(), l.now().UnixMilli(), cfg.Schedule)
	if err != nil {
		return credit.Pool{}, false, fmt.Errorf("open pool %s/%s: %w", account, cfg.Name, err)
	}
	if code != "OK" || len(rest) == 0 {
		return credit.Pool{}, false, fmt.Errorf("open pool %s/%s: %w", account, cfg.Name, codeError(code, rest))
	}
	p = parsePool(account, cfg.Name, fields(rest[1:]))
	if err := l.indexPeriod(ctx, p); err != nil {
		return credit.Pool{}, false, fmt.Errorf("open pool %s/%s: %w", account, cfg.Name, err)
	}
	return p, integer(rest[0]) == 1, nil
}

// Pool returns one pool of an account. Returns credit.ErrUnknownAccount or
// credit.ErrUnknownPool when it does not exist.
func (l *Redis) Pool(ctx context.Context, account, pool string) (credit.Pool, error) {
	if err := checkIDs("account", account, "pool", pool); err != nil {
		return credit.Pool{}, err
	}
	m, err := l.client.HGetAll(ctx, l.keys.pool(account, pool)).Result()
	if err != nil {
		return credit.Pool{}, fmt.Errorf("pool %s/%s: %w", account, pool, err)
	}
	if len(m) == 0 {
		n, err := l.client.Exists(ctx, l.keys.account(account)).Result()
		if err != nil {
			return credit.Pool{}, fmt.Errorf("pool %s/%s: %w", account, pool, err)
		}
		if n == 0 {
			return credit.Pool{}, credit.ErrUnknownAccount
		}
		return credit.Pool{}, credit.ErrUnknownPool
	}
	if l.stale(m) {
		if m, err = l.freshen(ctx, account, pool, m); err != nil {
			return credit.Pool{}, err
		}
	}
	return parsePool(account, pool, m), nil
}

// stale reports whether a pool hash, as read, has a period that has ended by
// now (and knows its schedule), or a grant whose expiry has come: a read
// must not show it so.
func (l *Redis) stale(m map[string]string) bool {
	now := l.now().UnixMilli()
	if m["schedule"] != "" && i64(m, "period_end") <= now {
		return true
	}
	n := i64(m, "grants_next_expiry")
	return n > 0 && n <= now
}

// freshen starts the pool's current period and expires its grants whose
// expiry has come, as the next change to the pool would, and reads it again.
func (l *Redis) freshen(ctx context.Context, account, pool string, m map[string]string) (map[string]string, error) {
	if m["schedule"] != "" && i64(m, "period_end") <= l.now().UnixMilli() {
		if err := l.roll(ctx, account, pool, ms(m, "period_end"), m["schedule"]); err != nil {
			return nil, err
		}
	}
	if n := i64(m, "grants_next_expiry"); n > 0 && n <= l.now().UnixMilli() {
		if _, err := l.ExpireGrants(ctx, account, pool); err != nil {
			return nil, err
		}
	}
	m, err := l.client.HGetAll(ctx, l.keys.pool(account, pool)).Result()
	if err != nil {
		return nil, fmt.Errorf("pool %s/%s: %w", account, pool, err)
	}
	return m, nil
}

// Pools returns every pool of an account, by name. Returns
// credit.ErrUnknownAccount when the account has none.
func (l *Redis) Pools(ctx context.Context, account string) ([]credit.Pool, error) {
	if err := credit.CheckID("account", account); err != nil {
		return nil, err
	}
	names, err := l.client.SMembers(ctx, l.keys.pools(account)).Result()
	if err != nil {
		return nil, fmt.Errorf("pools of %s: %w", account, err)
	}
	if len(names) == 0 {
		return nil, credit.ErrUnknownAccount
	}
	sort.Strings(names)
	pipe := l.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(names))
	for i, name := range names {
		cmds[i] = pipe.HGetAll(ctx, l.keys.pool(account, name))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("pools of %s: %w", account, err)
	}
	pools := make([]credit.Pool, 0, len(names))
	for i, cmd := range cmds {
		m := cmd.Val()
		if l.stale(m) {
			if m, err = l.freshen(ctx, account, names[i], m); err != nil {
				return nil, err
			}
		}
		pools = append(pools, parsePool(account, names[i], m))
	}
	return pools, nil
}

// TopUp adds amount (> 0) credits to a pool's allocation for this period, and
// journals it with reason, once per key: a top-up whose key was applied
// before changes nothing and returns the pool as it is. An empty key gets a
// fresh one, which still makes the client's own retries of this call (after
// a lost reply) harmless; callers that may repeat the call themselves (an
// API request retried by its client) pass a key of their own. Returns the
// pool after the change; credit.ErrInvalidAmount, credit.ErrInvalidID,
// credit.ErrUnknownAccount, credit.ErrUnknownPool, or credit.ErrKeyConflict
// when the key was applied to another change, with nothing changed.
func (l *Redis) TopUp(ctx context.Context, account, pool string, amount int64, reason, key string) (credit.Pool, error) {
	if err := credit.CheckAmount("top-up", amount); err != nil {
		return credit.Pool{}, err
	}
	return l.adjust(ctx, credit.EntryTopup, account, pool, amount, reason, key)
}

// Adjust changes a pool's allocation by amount, which may be negative but not
// zero, and journals it with reason, once per key as TopUp does. A negative
// adjustment may not take more than is available: it returns a
// *credit.InsufficientError then, with nothing changed.
func (l *Redis) Adjust(ctx context.Context, account, pool string, amount int64, reason, key string) (credit.Pool, error) {
	abs := amount
	if abs < 0 {
		abs = -abs
	}
	if err := credit.CheckAmount("adjustment", abs); err != nil {
		return credit.Pool{}, err
	}
	return l.adjust(ctx, credit.EntryAdjust, account, pool, amount, reason, key)
}

func (l *Redis) adjust(ctx context.Context, typ credit.EntryType, account, pool string, amount int64, reason, key string) (credit.Pool, error) {
	if key == "" {
		key = newOpKey()
	}
	if err := checkIDs("account", account, "pool", pool, "key", key); err != nil {
		return credit.Pool{}, err
	}
	code, rest, err := l.runPool(ctx, account, pool, adjustScript,
		[]string{l.keys.account(account), l.keys.pool(account, pool), l.keys.journal(account), l.keys.op(account, key)},
		string(typ), amount, l.now().UnixMilli(), reason, pool, key, l.retainEnded.Milliseconds())
	if err != nil {
		return credit.Pool{}, fmt.Errorf("%s %s/%s: %w", typ, account, pool, err)
	}
	switch code {
	case "OK":
		return parsePool(account, pool, fields(rest[1:])), nil
	case "KEY_CONFLICT":
		return credit.Pool{}, fmt.Errorf("%s %s/%s: key %s: %w", typ, account, pool, key, credit.ErrKeyConflict)
	}
	err = codeError(code, rest)
	if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
		ie.Pool = pool
	}
	return credit.Pool{}, err
}

// newOpKey returns a fresh key for a change whose caller gave none.
func newOpKey() string { return "op_" + strings.ToLower(ulid.Make().String()) }

func parsePool(account, name string, m map[string]string) credit.Pool {
	return credit.Pool{
		Account: account,
		PoolConfig: credit.PoolConfig{
			Name:              name,
			Grant:             i64(m, "grant"),
			OverageEnabled:    m["overage_enabled"] == "1",
			OverageLimit:      i64(m, "overage_limit"),
			OveragePriceCents: i64(m, "overage_price_cents"),
			Schedule:          m["schedule"],
		},
		Balance: credit.Balance{
			Counts: credit.Counts{
				Allocated:          i64(m, "allocated"),
				Used:               i64(m, "used"),
				Reserved:           i64(m, "reserved"),
				OverageReserved:    i64(m, "overage_reserved"),
				OverageOutstanding: i64(m, "overage_outstanding"),
				Carried:            i64(m, "carried"),
				GrantsAvailable:    i64(m, "grants_available"),
			},
			PeriodStart: ms(m, "period_start"),
			PeriodEnd:   ms(m, "period_end"),
		},
	}
}

// checkIDs checks pairs of (kind, id).
func checkIDs(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := credit.CheckID(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ChargedRecords returns how many distinct record ids a dedup pool has
// charged.
func (l *Redis) ChargedRecords(ctx context.Context, account, pool string) (int64, error) {
	if err := checkIDs("account", account, "pool", pool); err != nil {
		return 0, err
	}
	n, err := l.client.SCard(ctx, l.keys.dedup(account, pool)).Result()
	if err != nil {
		return 0, fmt.Errorf("charged records of %s/%s: %w", account, pool, err)
	}
	return n, nil
}

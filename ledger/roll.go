package ledger

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/plan"
)

// A pool's new period takes effect at its boundary, whether or not a sweep
// has run: every script that reads a pool's balance to change it answers
// ROLL when the pool's period has ended by its now and the pool knows its
// schedule. The caller then starts the period that holds now (the refresh
// script, once per period however many callers race to it) and runs the
// script again. The sweep does the same for pools no call touches.

// maxRolls bounds the rolls of one call: a second ROLL means a period
// ended between the refresh and the rerun.
const maxRolls = 3

// runPool runs a script of one account's pool that may answer ROLL, rolling
// the pool into its current period and running the script again when it
// does.
func (l *Redis) runPool(ctx context.Context, account, pool string, s *redis.Script, keys []string, args ...any) (string, []any, error) {
	return l.runPoolThen(ctx, account, pool, s, nil, keys, args...)
}

// runPoolThen is runPool that sends then's commands after the script, in
// the same pipeline, each time it runs the script (runThen).
func (l *Redis) runPoolThen(ctx context.Context, account, pool string, s *redis.Script, then func(redis.Pipeliner), keys []string, args ...any) (string, []any, error) {
	for range maxRolls {
		code, rest, err := l.runThen(ctx, s, then, keys, args...)
		if err != nil || code != "ROLL" {
			return code, rest, err
		}
		if len(rest) < 2 {
			return "", nil, fmt.Errorf("roll %s/%s: short reply %v", account, pool, rest)
		}
		if err := l.roll(ctx, account, pool, time.UnixMilli(integer(rest[0])), str(rest[1])); err != nil {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("roll %s/%s: the period ended %d times in one call", account, pool, maxRolls)
}

// roll starts the period of the pool that holds now, given the end of its
// last period and its schedule.
func (l *Redis) roll(ctx context.Context, account, pool string, lastEnd time.Time, spec string) error {
	p, err := schedule(spec)
	if err != nil {
		return fmt.Errorf("roll %s/%s: %w", account, pool, err)
	}
	start, end := p.CurrentPeriod(lastEnd, l.now())
	if end.IsZero() {
		return fmt.Errorf("roll %s/%s: schedule %q has no boundary after %s", account, pool, spec, start)
	}
	if _, _, err := l.Refresh(ctx, account, pool, start, end); err != nil {
		return fmt.Errorf("roll %s/%s: %w", account, pool, err)
	}
	return nil
}

// schedules caches parsed schedules by spec: a plan catalog has few.
var schedules sync.Map

func schedule(spec string) (plan.Plan, error) {
	if p, ok := schedules.Load(spec); ok {
		return p.(plan.Plan), nil
	}
	p, err := plan.ParseRefresh(spec)
	if err != nil {
		return plan.Plan{}, err
	}
	schedules.Store(spec, p)
	return p, nil
}

// Package embedredis runs Redis inside the process, on miniredis: the Redis
// of `creditrun dev` and of programs that embed creditrun the same way (see
// examples/customsource). It is for development only. Start keeps nothing
// past the process; Open keeps the store in a file, saved while it runs and
// at Close, and loaded at the next Open.
package embedredis

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Start runs miniredis on a loopback port. miniredis expires keys only when
// told to, so a goroutine moves its clock on with the wall clock until ctx
// ends. The caller closes it.
func Start(ctx context.Context) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	go runClock(ctx, m)
	return m, nil
}

// runClock moves m's clock on with the wall clock, expiring keys as it
// goes, until ctx ends.
func runClock(ctx context.Context, m *miniredis.Miniredis) {
	const tick = 500 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.FastForward(now.Sub(last))
			m.SetTime(now)
			last = now
		}
	}
}

// URL is the redis:// URL of m, database 0.
func URL(m *miniredis.Miniredis) string { return "redis://" + m.Addr() + "/0" }

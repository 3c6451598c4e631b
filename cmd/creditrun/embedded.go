package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// embeddedRedis runs miniredis in the process for `creditrun dev`. miniredis
// expires keys only when told to, so a goroutine moves its clock on with the
// wall clock until ctx ends.
func embeddedRedis(ctx context.Context) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	go func() {
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
	}()
	return m, nil
}

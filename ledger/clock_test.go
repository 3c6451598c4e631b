package ledger_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
)

// TestRedisClock: the clock follows redis-server's TIME, whatever the local
// clock says: a process whose clock runs ten minutes ahead or behind still
// reads Redis's time from it.
func TestRedisClock(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	for _, skew := range []time.Duration{0, 10 * time.Minute, -10 * time.Minute} {
		clock, err := ledger.NewRedisClock(t.Context(), c, ledger.RedisClockOptions{Refresh: time.Hour,
			LocalFunc: func() time.Time { return time.Now().Add(skew) }})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := c.Time(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		clock.Close()
		// redis-server shares this machine's clock, so what is left is the
		// measuring's error: well under a second either way.
		if d := now.Sub(rt); d < -time.Second || d > time.Second {
			t.Errorf("skew %s: clock says %s, Redis %s: %s apart", skew, now, rt, d)
		}
		if off := clock.Offset() + skew; off < -time.Second || off > time.Second {
			t.Errorf("skew %s: offset %s, want about %s", skew, clock.Offset(), -skew)
		}
	}

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	if _, err := ledger.NewRedisClock(t.Context(), down, ledger.RedisClockOptions{}); err == nil {
		t.Fatal("a clock on an unreachable Redis started")
	}
}

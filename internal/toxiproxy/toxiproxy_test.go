package toxiproxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/internal/toxiproxy"
)

// newClient returns a go-redis client through p that does not retry, so
// that each fault shows as an error.
func newClient(t *testing.T, p *toxiproxy.Proxy) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ReadTimeout: 2 * time.Second, DialTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	if p.Addr() == "" || strings.HasSuffix(p.Addr(), ":0") {
		t.Fatalf("proxy listens on %q", p.Addr())
	}
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("GET k = %q", got)
	}
}

// A limit_data toxic on the downstream side lets a command run on Redis and
// cuts its reply: the client sees an error, the server has the write.
func TestLimitDataLosesReplyAfterWrite(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil { // the connection's HELLO and PING pass
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer direct.Close()

	// Every reply from now on is cut before its first byte.
	name, err := p.LimitData(toxiproxy.Downstream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Incr(ctx, "n").Err(); err == nil {
		t.Fatal("INCR through the limit: no error")
	}
	if got := direct.Get(ctx, "n").Val(); got != "1" {
		t.Fatalf("the server has n = %q, want 1 (the command ran, its reply was lost)", got)
	}
	if err := p.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := c.Incr(ctx, "n").Err(); err != nil {
		t.Fatalf("INCR after removing the toxic: %v", err)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Latency(toxiproxy.Downstream, 300*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// A lower bound only: latency adds at least this much; nothing says
	// how much more a loaded machine adds.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("PING through 300ms of latency took %v", d)
	}
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
}

func TestResetPeerAndTimeout(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	name, err := p.ResetPeer(toxiproxy.Upstream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through reset_peer: no error")
	}
	if err := p.Remove(name); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Timeout(toxiproxy.Downstream, 0); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := c.Ping(tctx).Err(); err == nil {
		t.Fatal("PING through a silent timeout toxic: no error")
	}
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after clearing the toxics: %v", err)
	}
}

func TestBandwidth(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Set(ctx, "big", strings.Repeat("x", 64<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Bandwidth(toxiproxy.Downstream, 64); err != nil { // 64 KB/s
		t.Fatal(err)
	}
	if got := c.Get(ctx, "big").Val(); len(got) != 64<<10 {
		t.Fatalf("GET big through the squeeze: %d bytes", len(got))
	}
}

func TestPartitionAndHeal(t *testing.T) {
	t.Parallel()
	rs := redisserver.T(t)
	p := toxiproxy.T(t).ProxyT(t, "redis", rs.Addr())
	c := newClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	if err := p.Partition(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING across the partition: no error")
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != addr {
		t.Fatalf("healed proxy moved from %s to %s", addr, p.Addr())
	}
	// The pool may hand out a connection that died with the partition.
	var err error
	for range 5 {
		if err = c.Ping(ctx).Err(); err == nil {
			return
		}
	}
	t.Fatalf("PING after healing: %v", err)
}

func TestMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := toxiproxy.Start(toxiproxy.Options{Binary: "no-such-toxiproxy-server"})
	if !errors.Is(err, toxiproxy.ErrNotFound) {
		t.Fatalf("Start with a missing binary: %v, want ErrNotFound", err)
	}
}

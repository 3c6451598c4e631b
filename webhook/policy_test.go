package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/events"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestRetrySchedule: the first retries come within a minute, the waits grow
// to an hour, and the retries, before any jitter, span at least 24 hours
// (with it, at most a quarter more).
func TestRetrySchedule(t *testing.T) {
	payload := []byte(`{"msg":"msg_x"}`)
	var least, most time.Duration
	for n := range MaxRetry {
		d := RetryDelay(n, payload)
		if b := baseDelay(n); d < b || d > b+b/4 {
			t.Fatalf("retry %d waits %s, base %s", n, d, b)
		}
		least += baseDelay(n)
		most += RetryDelay(n, payload)
	}
	if RetryDelay(0, payload) > 15*time.Second || RetryDelay(1, payload) > 30*time.Second {
		t.Fatalf("first retries wait %s, %s", RetryDelay(0, payload), RetryDelay(1, payload))
	}
	if least < RetryWindow || least-baseDelay(MaxRetry-1) >= RetryWindow {
		t.Fatalf("%d retries span %s: not the fewest spanning %s", MaxRetry, least, RetryWindow)
	}
	if RetryDelay(3, payload) != RetryDelay(3, payload) || most > least+least/4 {
		t.Fatalf("jitter: %s over %s", most, least)
	}
}

// TestSecretSealed: with a key, the secret in Redis is not the secret (a
// dump alone does not reveal it), and it opens only with that key.
func TestSecretSealed(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	s, err := NewStore(c, StoreOptions{Prefix: "sealed", SecretKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	ep, secret, err := s.Create(ctx, "acme", "https://example.com/h", []events.Type{events.PoolLow}, "")
	if err != nil {
		t.Fatal(err)
	}
	raw := c.HGet(ctx, s.keys.endpoint(ep.ID), "secret").Val()
	if strings.Contains(raw, strings.TrimPrefix(secret, "whsec_")) || !strings.HasPrefix(raw, "gcm:") {
		t.Fatalf("stored %q for %q", raw, secret)
	}
	if _, got, err := s.secret(ctx, ep.ID); err != nil || got != secret {
		t.Fatalf("open: %q, %v", got, err)
	}
	other, _ := NewStore(c, StoreOptions{Prefix: "sealed", SecretKey: "k2"})
	if _, _, err := other.secret(ctx, ep.ID); err == nil {
		t.Fatal("another key opened the secret")
	}
}

// TestDisableAfterThreeDays: an endpoint whose every attempt fails is
// disabled once its failures span DisableAfter, and a success in between
// starts the count again.
func TestDisableAfterThreeDays(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	s, _ := NewStore(c, StoreOptions{Prefix: "dis"})
	ep, _, err := s.Create(ctx, "acme", "https://example.com/h", []events.Type{events.PoolLow}, "")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(at time.Duration, ok bool) bool {
		t.Helper()
		d, err := s.endpointOutcome(ctx, ep.ID, ok, t0.Add(at), DisableAfter)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	step(0, false)
	step(47*time.Hour, false)
	step(48*time.Hour, true) // a success: the run of failures ends
	step(49*time.Hour, false)
	if step(49*time.Hour+DisableAfter-time.Minute, false) {
		t.Fatal("disabled before three days of failures")
	}
	if !step(49*time.Hour+DisableAfter, false) {
		t.Fatal("not disabled after three days of failures")
	}
	got, _ := s.Get(ctx, ep.ID)
	if got.Status != StatusDisabled || !strings.Contains(got.DisabledReason, "every delivery failed") {
		t.Fatalf("endpoint %+v", got)
	}
}

// TestPerEndpointBound: no more than the bound hold a place at once; a
// released or expired place is free again.
func TestPerEndpointBound(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	s, _ := NewStore(c, StoreOptions{Prefix: "bound"})
	now := time.Now()
	for i, want := range []bool{true, true, false} {
		if ok, err := s.acquire(ctx, "wh_1", string(rune('a'+i)), now, time.Minute, 2); err != nil || ok != want {
			t.Fatalf("acquire %d: %v %v", i, ok, err)
		}
	}
	s.release(ctx, "wh_1", "a")
	if ok, _ := s.acquire(ctx, "wh_1", "d", now, time.Minute, 2); !ok {
		t.Fatal("a released place is not free")
	}
	if ok, _ := s.acquire(ctx, "wh_1", "e", now.Add(2*time.Minute), time.Minute, 2); !ok {
		t.Fatal("expired places are not free")
	}
}

// TestDeliveriesPages: an endpoint's deliveries come newest first, a page at
// a time, each once; a recorded delivery is recorded once however often the
// relay moves it; a cursor no listing gave is refused.
func TestDeliveriesPages(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	s, _ := NewStore(c, StoreOptions{Prefix: "pages"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"msg_a", "msg_b", "msg_c", "msg_a"} {
		if err := s.record(ctx, Delivery{ID: id, Endpoint: "wh_1", Account: "acme", Event: "pool.low",
			CreatedAt: t0.Add(time.Duration(i) * time.Second), body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for range 3 {
		page, next, err := s.Deliveries(ctx, "wh_1", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			got = append(got, d.ID)
			if d.Status != DeliveryPending || d.Attempts != 0 {
				t.Fatalf("delivery %+v", d)
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if strings.Join(got, ",") != "msg_c,msg_b,msg_a" {
		t.Fatalf("pages gave %v", got)
	}
	if _, _, err := s.Deliveries(ctx, "wh_1", 2, "-1"); !errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

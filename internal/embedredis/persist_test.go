package embedredis

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// TestOpenKeepsTheStore writes every kind of key a creditrun store holds,
// binary values and expiries included, closes the store, opens it again
// from its file and reads everything back.
func TestOpenKeepsTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "state", "redis.gob")
	s, err := Open(ctx, Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	binary := "\x00\xff\x10task"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "str", binary, 0).Err())
	must(c.Set(ctx, "ttl", "v", time.Hour).Err())
	must(c.Set(ctx, "gone", "v", time.Second).Err())
	must(c.HSet(ctx, "cr:{a:demo}:pool:people", "allocated", "1000", "used", "3").Err())
	must(c.RPush(ctx, "list", "a", "b", binary).Err())
	must(c.SAdd(ctx, "set", "x", "y").Err())
	must(c.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: 1795243125, Member: "b"}).Err())
	must(c.XAdd(ctx, &redis.XAddArgs{Stream: "journal", ID: "5-1", Values: []string{"type", "grant", "amount", "1000"}}).Err())
	must(c.XAdd(ctx, &redis.XAddArgs{Stream: "journal", ID: "7-0", Values: []string{"type", "reserve"}}).Err())
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the saved store: %v, %v", fi, err)
	}

	// Past the one-second key's expiry: it is not loaded.
	time.Sleep(1100 * time.Millisecond)
	s, err = Open(ctx, Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c = redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { c.Close() })
	if v, err := c.Get(ctx, "str").Result(); err != nil || v != binary {
		t.Errorf("str = %q, %v", v, err)
	}
	if ttl := c.TTL(ctx, "ttl").Val(); ttl <= 58*time.Minute || ttl > time.Hour {
		t.Errorf("ttl's TTL = %v, want just under an hour", ttl)
	}
	if n := c.Exists(ctx, "gone").Val(); n != 0 {
		t.Error("a key whose TTL ran out while the store was closed came back")
	}
	if h := c.HGetAll(ctx, "cr:{a:demo}:pool:people").Val(); !cmp.Equal(h, map[string]string{"allocated": "1000", "used": "3"}) {
		t.Errorf("hash = %v", h)
	}
	if l := c.LRange(ctx, "list", 0, -1).Val(); !cmp.Equal(l, []string{"a", "b", binary}) {
		t.Errorf("list = %q", l)
	}
	if m := c.SMembers(ctx, "set").Val(); len(m) != 2 {
		t.Errorf("set = %v", m)
	}
	if z := c.ZRangeWithScores(ctx, "zset", 0, -1).Val(); !cmp.Equal(z, []redis.Z{{Score: 1.5, Member: "a"}, {Score: 1795243125, Member: "b"}}) {
		t.Errorf("zset = %v", z)
	}
	x := c.XRange(ctx, "journal", "-", "+").Val()
	want := []redis.XMessage{{ID: "5-1", Values: map[string]any{"type": "grant", "amount": "1000"}}, {ID: "7-0", Values: map[string]any{"type": "reserve"}}}
	if !cmp.Equal(x, want) {
		t.Errorf("stream: %s", cmp.Diff(want, x))
	}
	// New stream entries follow the loaded ones.
	if id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: "journal", ID: "6-0", Values: []string{"a", "b"}}).Result(); err == nil {
		t.Errorf("XADD below the last loaded id was accepted: %s", id)
	}
}

// TestSaveWhileRunning checks the timer: a store saved while it runs is
// loaded by another Open even if the first was never closed.
func TestSaveWhileRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "redis.gob")
	s, err := Open(ctx, Options{File: file, SaveEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { c.Close() })
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		other, err := Open(ctx, Options{File: file})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := other.Get("k")
		// Not other.Close: that would save over the file.
		other.stop()
		other.client.Close()
		other.Miniredis.Close()
		if got == "v" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the running store was never saved")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenRefusesAnUnreadableFile: a file that is not a saved store stops
// Open, rather than starting empty and saving over it.
func TestOpenRefusesAnUnreadableFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "redis.gob")
	if err := os.WriteFile(file, []byte("not a store"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), Options{File: file}); err == nil {
		s.Close()
		t.Fatal("Open accepted a file that is not a saved store")
	}
	if b, _ := os.ReadFile(file); string(b) != "not a store" {
		t.Errorf("the file was changed: %q", b)
	}
}

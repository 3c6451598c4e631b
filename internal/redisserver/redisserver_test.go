package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := T(t)

	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(), err)
	}
	if opt.Addr != s.Addr() {
		t.Errorf("URL %q has addr %q, want %q", s.URL(), opt.Addr, s.Addr())
	}
	if strings.HasSuffix(s.Addr(), ":6379") {
		t.Errorf("Addr() = %q: the default port, want a free one", s.Addr())
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\", nil", got, err)
	}
	if save, err := rdb.ConfigGet(ctx, "save").Result(); err != nil || save["save"] != "" {
		t.Errorf("CONFIG GET save = %v, %v; want persistence off", save, err)
	}

	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still there after Close: %v", dir, err)
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", s.Addr())
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := ClusterT(t)

	if n := len(c.Addrs()); n != clusterMasters {
		t.Fatalf("Addrs() has %d nodes, want %d", n, clusterMasters)
	}
	if want := "redis+cluster://" + strings.Join(c.Addrs(), ","); c.URL() != want {
		t.Errorf("URL() = %q, want %q", c.URL(), want)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()

	// Write keys until every master holds one: they are in different slots
	// on different nodes, so the cluster really routes.
	masters := map[string]bool{}
	slots := map[int64]bool{}
	for i := 0; len(masters) < clusterMasters; i++ {
		if i == 100 {
			t.Fatalf("100 keys landed on %d masters only, want %d", len(masters), clusterMasters)
		}
		key := fmt.Sprintf("key-%d", i)
		if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		if got, err := rdb.Get(ctx, key).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v; want %d", key, got, err, i)
		}
		slot, err := rdb.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
		}
		slots[slot] = true
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatalf("MasterForKey(%s): %v", key, err)
		}
		masters[m.Options().Addr] = true
	}
	if len(slots) < clusterMasters {
		t.Errorf("keys used %d slots, want at least %d", len(slots), clusterMasters)
	}
}

func TestStartNotFound(t *testing.T) {
	t.Parallel()
	_, err := Start(Options{Binary: "no-such-redis-server"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Start with a missing binary: %v, want ErrNotFound", err)
	}
	_, err = StartCluster(Options{CLI: "no-such-redis-cli"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("StartCluster with a missing redis-cli: %v, want ErrNotFound", err)
	}
}

func TestStartBadArgsQuotesLog(t *testing.T) {
	t.Parallel()
	_, err := Start(Options{Args: []string{"--no-such-directive", "x"}, StartTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("Start with a bad directive succeeded")
	}
	if !strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("error does not quote the server log:\n%v", err)
	}
}

func TestStartRetriesTakenPort(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	picks := 0
	pick := func() (int, error) {
		picks++
		if picks == 1 {
			return takenPort, nil
		}
		return freePort()
	}
	s, err := startWithPorts(defaultBinary, Options{}.withDefaults(), nil, pick)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			t.Fatal(notFoundHint)
		}
		t.Fatalf("start after a taken port: %v", err)
	}
	defer s.Close()
	if picks != 2 {
		t.Errorf("picked %d ports, want 2 (the taken one, then a free one)", picks)
	}
	if _, err := serverPID(context.Background(), s.Addr()); err != nil {
		t.Errorf("server does not answer: %v", err)
	}
}

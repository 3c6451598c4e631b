package redisserver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A write acknowledged under appendfsync always survives SIGKILL: Restart
// comes back on the same port and replays the append-only file.
func TestKillRestartKeepsAOF(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := TWith(t, Options{AppendFsync: "always"})
	addr, pid := s.Addr(), s.Pid()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	for i := range 100 {
		if err := rdb.Incr(ctx, "n").Err(); err != nil {
			t.Fatalf("INCR %d: %v", i, err)
		}
	}
	if cfg := rdb.ConfigGet(ctx, "appendfsync").Val(); cfg["appendfsync"] != "always" {
		t.Fatalf("appendfsync = %v", cfg)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr || s.Pid() == pid {
		t.Fatalf("after Restart: %s pid %d, before: %s pid %d", s.Addr(), s.Pid(), addr, pid)
	}
	if got, err := rdb.Get(ctx, "n").Result(); err != nil || got != "100" {
		t.Fatalf("GET n after the restart = %q, %v; want 100", got, err)
	}
}

// Without AOF, a killed server comes back empty.
func TestRestartWithoutAOFIsEmpty(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := T(t)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := rdb.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("DBSIZE after restart without AOF = %d", n)
	}
}

// MaxMemory refuses writes past the cap with OOM and evicts nothing; a
// higher cap (CONFIG SET) lets writes in again.
func TestMaxMemoryNoEviction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := TWith(t, Options{MaxMemory: "4mb"})
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	if p := rdb.ConfigGet(ctx, "maxmemory-policy").Val(); p["maxmemory-policy"] != "noeviction" {
		t.Fatalf("maxmemory-policy = %v", p)
	}
	val := strings.Repeat("x", 64<<10)
	var written int
	var oom error
	for i := range 1000 {
		if err := rdb.Set(ctx, "k"+strconv.Itoa(i), val, 0).Err(); err != nil {
			oom = err
			break
		}
		written++
	}
	if oom == nil || !strings.HasPrefix(oom.Error(), "OOM") {
		t.Fatalf("after %d writes of 64 KiB into 4 MiB: %v, want OOM", written, oom)
	}
	if n := rdb.DBSize(ctx).Val(); n != int64(written) {
		t.Fatalf("DBSIZE %d after %d writes: something was evicted", n, written)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "after", val, 0).Err(); err != nil {
		t.Fatalf("SET after raising maxmemory: %v", err)
	}
}

// Killing the master of a Sentinel set promotes the replica; a failover
// client follows it, and the old master, restarted, becomes a replica.
func TestFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	f := FailoverT(t, FailoverOptions{Options: Options{AppendFsync: "always"}})
	if got := f.URL(); !strings.HasPrefix(got, "redis+sentinel://127.0.0.1:") || !strings.HasSuffix(got, "/"+DefaultMasterName) || strings.Count(got, ",") != 2 {
		t.Fatalf("URL() = %q", got)
	}
	first, err := f.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first != f.Servers()[0] {
		t.Fatalf("master %s, want the first server %s", first.Addr(), f.Servers()[0].Addr())
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: f.MasterName(), SentinelAddrs: f.SentinelAddrs()})
	defer rdb.Close()
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The replica has it before the master dies.
	if err := rdb.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}

	old, promoted, err := f.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != first || promoted != f.Servers()[1] {
		t.Fatalf("failover from %s to %s", old.Addr(), promoted.Addr())
	}
	var setErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if setErr = rdb.Set(ctx, "after", "1", 0).Err(); setErr == nil {
			break
		}
	}
	if setErr != nil {
		t.Fatalf("SET through the failover client after the failover: %v", setErr)
	}
	if got := rdb.Get(ctx, "before").Val(); got != "1" {
		t.Fatalf("GET before = %q after the failover", got)
	}

	if err := old.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := f.waitSynced(ctx, promoted); err != nil {
		t.Fatalf("the old master did not come back as a replica: %v", err)
	}
}

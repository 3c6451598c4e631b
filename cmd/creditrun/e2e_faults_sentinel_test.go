//go:build linux

package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestFaultsSentinelFailoverWait kills the master of a Sentinel set (a
// master, a replica, three sentinels) under load, with
// CREDITRUN_REDIS_WAIT_REPLICAS=1: every credit-changing call waits for
// the replica, so no acknowledged credit change is lost when the replica
// is promoted. creditrun (go-redis and asynq) follows the new master: jobs
// submitted after the failover run.
func TestFaultsSentinelFailoverWait(t *testing.T) {
	faultsSentinel(t, true)
}

// TestFaultsSentinelFailoverNoWait is the same without waiting for
// replicas: acknowledged changes that had not reached the replica are lost
// at the failover. The scenario reports how many; what survived must be
// consistent.
func TestFaultsSentinelFailoverNoWait(t *testing.T) {
	faultsSentinel(t, false)
}

func faultsSentinel(t *testing.T, wait bool) {
	if testing.Short() {
		t.Skip("fault suite: runs a Sentinel set and fails its master over")
	}
	t.Parallel()
	f := redisserver.FailoverT(t, redisserver.FailoverOptions{Options: redisserver.Options{AppendFsync: "always"}})
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: f.MasterName(), SentinelAddrs: f.SentinelAddrs()})
	t.Cleanup(func() { rdb.Close() })
	var env []string
	name := "sentinel-failover-nowait"
	if wait {
		env = []string{"CREDITRUN_REDIS_WAIT_REPLICAS=1"}
		name = "sentinel-failover-wait1"
	}
	fs := startFaultStack(t, faultOptions{redisURL: f.URL(), rdb: rdb, env: env, workers: 2})
	l := newFaultLoad(t, fs)
	rep := &faultReport{name: name}
	n, failovers := scale(120, 800), scale(1, 3)

	done := make(chan struct{})
	go func() { defer close(done); l.run(t.Context(), n, 6, 20*time.Millisecond) }()
	var recovered chan time.Duration
	for k := range failovers {
		want := (k + 1) * n / (failovers + 1)
		for l.acceptedCount() < want && !closed(done) {
			time.Sleep(50 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		killed := time.Now()
		old, promoted, err := f.KillMaster(ctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		rep.faults++
		t.Logf("failover %d: killed master %s after %d accepted jobs; %s promoted in %s",
			k+1, old.Addr(), l.acceptedCount(), promoted.Addr(), time.Since(killed).Round(100*time.Millisecond))
		if k == failovers-1 {
			// Jobs submitted from now on must run on the new master.
			recovered = l.probeAsync(killed, 3*time.Minute)
		}
		// The old master comes back as a replica of the new one, so the
		// next failover has a replica to promote.
		if err := old.Restart(); err != nil {
			cancel()
			t.Fatal(err)
		}
		if err := f.WaitSynced(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
	}
	<-done
	rep.recover = <-recovered
	l.oracle(rep, wait, scale(4*time.Minute, 8*time.Minute))
}

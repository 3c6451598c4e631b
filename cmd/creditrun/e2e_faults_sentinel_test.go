//go:build linux

package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/internal/toxiproxy"
)

// TestFaultsSentinelFailoverWait kills the master of a Sentinel set (a
// master, a replica that lags it by 300 ms, three sentinels) under load, with
// CREDITRUN_REDIS_WAIT_REPLICAS=1: every credit-changing call waits for
// the replica, so no acknowledged credit change is lost when the replica
// is promoted. creditrun (go-redis and asynq) follows the new master: jobs
// submitted after the failover run. The job record and the queued task a
// 202 also stands for are written after the reservation and not waited
// for: the scenario reports accepted jobs lost that way (the reaper gives
// their credits back) without failing on them.
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
	// The replica replicates through a proxy that delays the stream by a
	// fraction of a second, as a replica in another zone lags: without
	// WAIT, what the master acknowledged in that window is not on the
	// replica when it is promoted. (Sentinel would point the replica back
	// at the master's own address after its failover timeout; 45 s keeps
	// the proxy in place until the failover, and is short enough that the
	// restarted old master is made a replica soon after it.)
	tp := toxiproxy.T(t)
	var link *toxiproxy.Proxy
	f := redisserver.FailoverT(t, redisserver.FailoverOptions{
		Options:         redisserver.Options{AppendFsync: "always"},
		FailoverTimeout: 45 * time.Second,
		ReplicaLink: func(master string) string {
			link = tp.ProxyT(t, "replication", master)
			return link.Addr()
		},
	})
	const lag = 300 * time.Millisecond
	if _, err := link.Latency(toxiproxy.Downstream, lag, 0); err != nil {
		t.Fatal(err)
	}
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
	// One failover: Sentinel waits twice its failover timeout before another.
	n, failovers := scale(120, 800), 1

	done := make(chan struct{})
	go func() { defer close(done); l.run(t.Context(), n, 6, 20*time.Millisecond) }()
	var recovered chan time.Duration
	for k := range failovers {
		want := (k + 1) * n / (failovers + 1)
		for l.acceptedCount() < want && !closed(done) {
			time.Sleep(50 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		// The master's host dies: the replication stream still in flight
		// dies with it (a SIGKILLed process's socket would still deliver it).
		if k == 0 {
			if err := link.Partition(); err != nil {
				cancel()
				t.Fatal(err)
			}
		}
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
	d := durableNone
	if wait {
		d = durableCredits
	}
	l.oracle(rep, d, endLimit)
}

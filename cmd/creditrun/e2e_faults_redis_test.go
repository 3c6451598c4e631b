//go:build linux

package main

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestFaultsRedisKilledAOFAlways SIGKILLs redis-server several times during
// the load and restarts it on its append-only file, written with
// appendfsync always: every acknowledged write is on disk before its reply.
// Every job the client saw accepted ends and settles exactly once, every
// acknowledged top-up and hold payment is in the journal, and the journals
// replay to the pools.
func TestFaultsRedisKilledAOFAlways(t *testing.T) {
	faultsRedisKilled(t, "always", durableAll)
}

// TestFaultsRedisKilledAOFEverysec is the same with appendfsync everysec,
// the documented trade: up to a second of acknowledged writes may be lost
// at each kill. The scenario reports what was lost; what survived must be
// consistent (a prefix of history: ledger, job records and queue agree).
func TestFaultsRedisKilledAOFEverysec(t *testing.T) {
	faultsRedisKilled(t, "everysec", durableNone)
}

func faultsRedisKilled(t *testing.T, fsync string, d durability) {
	if testing.Short() {
		t.Skip("fault suite: runs a cluster and kills its Redis")
	}
	t.Parallel()
	srv := redisserver.TWith(t, redisserver.Options{AppendFsync: fsync})
	fs := startFaultStack(t, faultOptions{redis: srv, workers: 2})
	l := newFaultLoad(t, fs)
	rep := &faultReport{name: "redis-killed-aof-" + fsync}
	n, kills := scale(120, 1000), scale(3, 10)

	done := make(chan struct{})
	go func() { defer close(done); l.run(t.Context(), n, 6, 20*time.Millisecond) }()
	var recovered chan time.Duration
	for k := range kills {
		// Spread the kills over the load: the next one once another share
		// of the jobs is in.
		want := (k + 1) * n / (kills + 1)
		for l.acceptedCount() < want && !closed(done) {
			time.Sleep(50 * time.Millisecond)
		}
		srv.Kill()
		rep.faults++
		time.Sleep(jitter(500 * time.Millisecond))
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d: redis-server down and back after %d accepted jobs", k+1, l.acceptedCount())
		if k == kills-1 {
			recovered = l.probeAsync(time.Now(), 2*time.Minute)
		}
	}
	<-done
	rep.recover = <-recovered
	l.oracle(rep, d, endLimit)
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestFaultsRedisFull runs the load against a Redis with maxmemory and
// noeviction, and drops maxmemory below what Redis holds in the middle of
// it: every write is refused with OOM. Submits then answer 503 with
// nothing reserved (no account's journal moves), jobs in flight fail or
// retry cleanly, and once maxmemory is raised again the work resumes and
// every job ends, settled exactly once.
func TestFaultsRedisFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: runs a cluster and fills its Redis")
	}
	t.Parallel()
	const roomy = "512mb"
	srv := redisserver.TWith(t, redisserver.Options{MaxMemory: roomy, AppendFsync: "always"})
	fs := startFaultStack(t, faultOptions{redis: srv, workers: 2})
	l := newFaultLoad(t, fs)
	rep := &faultReport{name: "redis-full"}
	n, fulls := scale(100, 600), scale(1, 4)
	ctx := t.Context()

	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx, n, 4, 20*time.Millisecond) }()
	var recovered chan time.Duration
	var refused, answered503 int
	for k := range fulls {
		want := (k + 1) * n / (fulls + 1)
		for l.acceptedCount() < want && !closed(done) {
			time.Sleep(50 * time.Millisecond)
		}
		if err := fs.rdb.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
			t.Fatal(err)
		}
		rep.faults++
		before := l.journalLens(t)
		// Submits while Redis is full: each refused, none reserving.
		for i := range 10 {
			a := l.accts[i%len(l.accts)]
			r, err := fs.do("POST", "/v1/searches", a.key, map[string]any{"data_type": "products", "query": "*", "num_records": 3},
				"Idempotency-Key", "full-"+strconv.Itoa(k)+"-"+strconv.Itoa(i))
			if err != nil {
				t.Errorf("submit while Redis is full: %v", err)
				continue
			}
			refused++
			if r.status == http.StatusServiceUnavailable {
				answered503++
			} else {
				t.Errorf("submit while Redis is full: %s, want 503", r)
			}
		}
		time.Sleep(jitter(2 * time.Second)) // jobs in flight meet the full Redis
		if after := l.journalLens(t); !maps.Equal(before, after) {
			t.Errorf("journals moved while Redis refused every write: %v, then %v", before, after)
		}
		if err := fs.rdb.ConfigSet(ctx, "maxmemory", roomy).Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("full %d: refused writes for about 2s after %d accepted jobs", k+1, l.acceptedCount())
		if k == fulls-1 {
			recovered = l.probeAsync(time.Now(), 2*time.Minute)
		}
	}
	<-done
	rep.recover = <-recovered
	rep.extra = append(rep.extra, fmt.Sprintf("submits while full: %d, answered 503: %d", refused, answered503))
	l.oracle(rep, durableAll, endLimit)
}

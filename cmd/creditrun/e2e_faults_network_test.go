//go:build linux

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/internal/toxiproxy"
)

// TestFaultsNetwork puts a toxiproxy between each role and Redis, and
// between each worker and S3, and during the load injects, one after the
// other: seconds of latency, connections reset, replies cut mid-way after
// Redis ran the command (go-redis then retries it), squeezed bandwidth,
// and a full partition of one worker from Redis and S3 for longer than
// asynq's lease. Every job ends, settled exactly once; nothing is stuck.
func TestFaultsNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: runs a cluster behind toxiproxy")
	}
	t.Parallel()
	srv := redisserver.T(t)
	tp := toxiproxy.T(t)
	const workers = 2
	apiRedis := tp.ProxyT(t, "api-redis", srv.Addr())
	var workerRedis, workerS3 []*toxiproxy.Proxy
	for i := range workers {
		workerRedis = append(workerRedis, tp.ProxyT(t, fmt.Sprintf("worker%d-redis", i), srv.Addr()))
	}
	gw := s3server.T(t)
	for i := range workers {
		workerS3 = append(workerS3, tp.ProxyT(t, fmt.Sprintf("worker%d-s3", i), gw.Addr()))
	}
	fs := startFaultStack(t, faultOptions{redis: srv, workers: workers, gw: gw,
		roleRedisURL: func(role string, i int) string {
			switch {
			case role == "api":
				return "redis://" + apiRedis.Addr() + "/0"
			case role == "worker" && i < workers:
				return "redis://" + workerRedis[i].Addr() + "/0"
			}
			return ""
		},
		workerS3Endpoint: func(i int) string {
			if i < workers {
				return "http://" + workerS3[i].Addr()
			}
			return ""
		},
	})
	l := newFaultLoad(t, fs)
	rep := &faultReport{name: "network"}
	n := scale(160, 1200)
	all := append(append([]*toxiproxy.Proxy{apiRedis}, workerRedis...), workerS3...)

	// Paced so that the load runs through every fault: the faults below
	// last about a minute (two and a half at length).
	const clients = 6
	pace := scale(60*time.Second, 150*time.Second) * clients / time.Duration(n)
	done := make(chan struct{})
	go func() { defer close(done); l.run(t.Context(), n, clients, pace) }()
	step := func(what string, hold time.Duration, inject func() error) {
		t.Helper()
		if err := inject(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		rep.faults++
		time.Sleep(hold)
		for _, p := range all {
			if err := p.Clear(); err != nil {
				t.Fatal(err)
			}
			if err := p.Heal(); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s for %s; %d jobs accepted", what, hold, l.acceptedCount())
		time.Sleep(jitter(time.Second))
	}
	each := func(ps []*toxiproxy.Proxy, f func(*toxiproxy.Proxy) error) func() error {
		return func() error {
			for _, p := range ps {
				if err := f(p); err != nil {
					return err
				}
			}
			return nil
		}
	}
	rounds := scale(1, 3)
	for range rounds {
		step("2s of latency on every reply from Redis and S3", scale(5*time.Second, 10*time.Second),
			each(all, func(p *toxiproxy.Proxy) error {
				_, err := p.Latency(toxiproxy.Downstream, 2*time.Second, 500*time.Millisecond)
				return err
			}))
		step("connections to Redis reset", scale(2*time.Second, 5*time.Second),
			each(append([]*toxiproxy.Proxy{apiRedis}, workerRedis...), func(p *toxiproxy.Proxy) error { _, err := p.ResetPeer(toxiproxy.Upstream, 0); return err }))
		step("replies from Redis cut after 3000 bytes per connection", scale(4*time.Second, 10*time.Second),
			each(append([]*toxiproxy.Proxy{apiRedis}, workerRedis...), func(p *toxiproxy.Proxy) error { _, err := p.LimitData(toxiproxy.Downstream, 3000); return err }))
		step("bandwidth of 8 KB/s to workers", scale(5*time.Second, 10*time.Second),
			each(append(append([]*toxiproxy.Proxy{}, workerRedis...), workerS3...), func(p *toxiproxy.Proxy) error { _, err := p.Bandwidth(toxiproxy.Downstream, 8); return err }))
	}
	// Worker 0 cut off from Redis and S3 for longer than asynq's 30 s lease:
	// its tasks go to the other worker, and what it does after the
	// partition heals must not settle anything twice.
	step("worker 0 partitioned from Redis and S3", scale(40*time.Second, 75*time.Second), func() error {
		if err := workerRedis[0].Partition(); err != nil {
			return err
		}
		return workerS3[0].Partition()
	})
	recovered := l.probeAsync(time.Now(), 3*time.Minute)
	<-done
	rep.recover = <-recovered
	l.oracle(rep, durableAll, endLimit)
}

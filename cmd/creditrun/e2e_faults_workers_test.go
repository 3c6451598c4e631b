//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/internal/toxiproxy"
)

// TestFaultsWorkersKilled SIGKILLs a worker at random every few seconds
// while many jobs run (slowed by S3 replies a second late, so that kills
// land mid-job), and starts a replacement each time. asynq hands a
// killed worker's tasks to another once their lease has run out (30 s,
// plus up to a minute for its recoverer), so the jobs end later, but every
// job ends, settled exactly once.
func TestFaultsWorkersKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: kills workers and waits out asynq's lease")
	}
	t.Parallel()
	// Every reply from S3 comes a second late, so that a job's upload takes
	// seconds and the kills land on jobs in the middle of their run.
	gw := s3server.T(t)
	slowS3 := toxiproxy.T(t).ProxyT(t, "s3", gw.Addr())
	if _, err := slowS3.Latency(toxiproxy.Downstream, time.Second, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	fs := startFaultStack(t, faultOptions{workers: 3, gw: gw,
		workerS3Endpoint: func(int) string { return "http://" + slowS3.Addr() }})
	l := newFaultLoad(t, fs)
	rep := &faultReport{name: "workers-killed"}
	n, kills, every := scale(150, 2000), scale(4, 40), scale(3*time.Second, 4*time.Second)

	// Paced so that the load lasts as long as the kills do.
	const clients = 6
	pace := time.Duration(kills) * every * clients / time.Duration(n)
	done := make(chan struct{})
	go func() { defer close(done); l.run(t.Context(), n, clients, pace) }()
	var last time.Time
	for k := range kills {
		time.Sleep(jitter(every))
		if closed(done) && k >= 2 {
			break // the load is in; two kills at least
		}
		fs.mu.Lock()
		i := rand.IntN(len(fs.workers))
		victim := fs.workers[i]
		fs.workers = append(fs.workers[:i], fs.workers[i+1:]...)
		fs.mu.Unlock()
		victim.kill(t)
		rep.faults++
		fs.startWorker()
		last = time.Now()
		t.Logf("kill %d: worker pid %d killed and replaced, %d jobs accepted", k+1, victim.cmd.Process.Pid, l.acceptedCount())
	}
	recovered := l.probeAsync(last, 3*time.Minute)
	<-done
	rep.recover = <-recovered
	rep.extra = append(rep.extra, fmt.Sprintf("workers started %d", fs.started))
	l.oracle(rep, durableAll, endLimit)
}

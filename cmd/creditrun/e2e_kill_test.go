//go:build linux

package main

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/source/dataset"
)

var (
	binaryOnce sync.Once
	binaryPath string
	errBinary  error
)

// binary builds creditrun once per package run.
func binary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryPath = filepath.Join(tempRoot, "creditrun")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			errBinary = &buildError{err: err, out: out}
		}
	})
	if errBinary != nil {
		t.Fatal(errBinary)
	}
	return binaryPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// syncBuffer is a process's output, written by exec and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is one creditrun subprocess.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startProc runs `creditrun role` with env and waits until its /healthz
// answers. The process dies with the test binary (Pdeathsig) and is killed
// when the test ends; its output is logged if the test failed.
func startProc(t *testing.T, role, addr string, env ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), role), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "CREDITRUN_HTTP_ADDR="+addr), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("creditrun %s (pid %d) said:\n%s", role, p.cmd.Process.Pid, tail(p.out.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("creditrun %s exited: %s", role, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("creditrun %s not healthy after 30s: %s", role, p.out.String())
		}
		time.Sleep(pollEvery)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// 30 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("creditrun (pid %d) did not stop on SIGTERM within 30s", p.cmd.Process.Pid)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestE2EWorkerKilledMidDownload runs `creditrun api` and `creditrun worker`
// as processes on one redis-server, kills the worker with SIGKILL in the
// middle of a 300,000-record download, and starts another worker. asynq
// redelivers the task once its lease has run out (1–3 minutes), and the job
// still ends settled exactly once: one post of the records delivered.
func TestE2EWorkerKilledMidDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's lease to run out: minutes")
	}
	t.Parallel()
	const people = 300_000
	srv := redisserver.T(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ds := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: ds, People: people, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	s := &stack{admin: "cr_admin_kill_test", rdb: rdb, redis: srv, dataDir: t.TempDir(), dataset: ds, userKeys: map[string]bool{}, rateOn: true}
	env := []string{
		"CREDITRUN_REDIS_URL=" + srv.URL(), "CREDITRUN_ADMIN_KEY=" + s.admin, "CREDITRUN_DATA_DIR=" + s.dataDir,
		"CREDITRUN_DATASET=" + ds, "CREDITRUN_RATE_LIMIT=1000", "CREDITRUN_WORKER_CONCURRENCY=2",
	}
	apiAddr := freeAddr(t)
	s.base = "http://" + apiAddr
	startProc(t, "api", apiAddr, env...)
	first := startProc(t, "worker", freeAddr(t), env...)

	acct, key := s.newAccount(t, "people-1k-99")
	s.setAvailable(t, acct, key, "people", people)
	j, m := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": people, "format": "csv"})
	if m.CreditsReserved != people || m.OverageReserved != 0 {
		t.Fatalf("meta %+v", m)
	}
	// Running, with records written and more to go. The worker opens the
	// dataset first, which takes a moment at this size.
	s.waitJob(t, key, j.ID, 2*time.Minute, "running mid-download", func(j jobJSON) bool {
		if ended(j.Status) {
			t.Fatalf("the download ended (%s) before the worker could be killed: make it bigger", j.Status)
		}
		return j.Status == "running" && j.Progress != nil && j.Progress.Done > 0
	})
	first.kill(t)
	killed, r := s.job(t, key, j.ID)
	if killed.Status != "running" {
		t.Fatalf("the download ended before the kill landed: make it bigger: %s", r)
	}
	t.Logf("killed the worker at %d of %d records", killed.Progress.Done, killed.Progress.Total)
	if p := s.pool(t, key, "people"); p.Reserved != people || p.Used != 0 {
		t.Errorf("pool while the job waits for redelivery: %+v", p)
	}

	startProc(t, "worker", freeAddr(t), env...)
	done, r := s.waitJob(t, key, j.ID, 5*time.Minute, "ended", func(j jobJSON) bool { return ended(j.Status) })
	if done.Status != "succeeded" {
		t.Fatalf("after redelivery: %s", r)
	}
	var delivered int64
	for _, f := range done.Results {
		delivered += f.Records
	}
	if done.TotalCost != people || delivered != people || done.NumFound != people || done.CreditsReleased != 0 {
		t.Errorf("job %s: total_cost %d, %d records in its files, num_found %d, released %d; want %d each and 0 released",
			j.ID, done.TotalCost, delivered, done.NumFound, done.CreditsReleased, people)
	}
	posts := 0
	var posted int64
	for _, e := range s.ledgerEntries(t, key) {
		if e.JobID == j.ID && e.Type == "post" {
			posts++
			posted += e.Amount
		}
	}
	if posts != 1 || posted != done.TotalCost {
		t.Errorf("job %s: %d post entries of %d credits in all, want one of %d", j.ID, posts, posted, done.TotalCost)
	}
	if p := s.pool(t, key, "people"); p.Used != people || p.Reserved != 0 || p.Available != 0 {
		t.Errorf("pool %+v", p)
	}
	// The files hold every record once: a header and a line per record.
	if lines := csvRecords(t, done.Results); lines != people {
		t.Errorf("%d records in the result files, want %d", lines, people)
	}
}

// csvRecords fetches CSV result files through their links and counts their
// records: every line but each file's header.
func csvRecords(t *testing.T, results []resultJSON) int64 {
	t.Helper()
	var lines int64
	for _, f := range results {
		resp, err := http.Get(f.URL)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines++
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", f.URL, resp.StatusCode, err)
		}
		lines-- // the header
	}
	return lines
}

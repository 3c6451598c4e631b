package benchmark

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
)

// WorkerProcess says how to start a `creditrun worker` process.
type WorkerProcess struct {
	// Command is the creditrun executable and the arguments that run a
	// worker, e.g. os.Executable() and "worker".
	Command []string
	// RedisURL, Dataset and DataDir are the worker's CREDITRUN_REDIS_URL,
	// CREDITRUN_DATASET and CREDITRUN_DATA_DIR; the rest of its environment
	// is this process's.
	RedisURL, Dataset, DataDir string
	// Timeout bounds one download, from the start of the process (which
	// loads the dataset first). Defaults to 5 minutes.
	Timeout time.Duration
}

// DownloadPeakRSS starts a worker process, submits through the stack a CSV
// download of records people (of every record, no query), waits until the
// job has succeeded, and returns the process's peak resident memory
// (VmHWM) in bytes, and the job. It stops the process (SIGTERM) and waits
// for it before it returns, whatever happened.
func DownloadPeakRSS(ctx context.Context, p WorkerProcess, s *Stack, records int64) (int64, jobs.Job, error) {
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	addr, err := freeAddr(ctx)
	if err != nil {
		return 0, jobs.Job{}, err
	}
	// The process lives until this returns: then procCtx's end sends it
	// SIGTERM, and a kill follows if it has not stopped within asynq's
	// shutdown time.
	procCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(procCtx, p.Command[0], p.Command[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = append(os.Environ(),
		"CREDITRUN_REDIS_URL="+p.RedisURL, "CREDITRUN_DATASET="+p.Dataset,
		"CREDITRUN_DATA_DIR="+p.DataDir, "CREDITRUN_HTTP_ADDR="+addr)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		stop()
		return 0, jobs.Job{}, fmt.Errorf("start worker: %w", err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() { stop(); <-exited }()

	j, err := s.Service.Submit(ctx, s.Account, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: records, Format: jobs.CSV})
	if err != nil {
		return 0, jobs.Job{}, fmt.Errorf("submit download: %w", err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return 0, j, fmt.Errorf("worker exited (%w) before job %s ended: %s", exitErr, j.ID, out.String())
		case <-ctx.Done():
			return 0, j, fmt.Errorf("download %s of %d records: %w; worker output: %s", j.ID, records, ctx.Err(), out.String())
		case <-tick.C:
		}
		if j, err = s.Service.Get(ctx, s.Account, j.ID); err != nil {
			return 0, j, fmt.Errorf("download %s: %w", j.ID, err)
		}
		switch j.Status {
		case jobs.Succeeded:
			rss, err := peakRSS(cmd.Process.Pid)
			return rss, j, err
		case jobs.Failed, jobs.Canceled:
			return 0, j, fmt.Errorf("download %s %s: %s; worker output: %s", j.ID, j.Status, j.Error, out.String())
		}
	}
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

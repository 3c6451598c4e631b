package benchmark

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"

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
	// Env is added to the worker's environment last, so it overrides the
	// rest: CREDITRUN_S3_* and AWS_* for a worker that writes to S3.
	Env []string
	// Timeout bounds one download, from the start of the process (which
	// loads the dataset first). Defaults to 5 minutes.
	Timeout time.Duration
}

// WorkerMemory is what DownloadPeakRSS measured of one worker process.
type WorkerMemory struct {
	// LoadedRSS is the peak resident memory (VmHWM) once the worker had
	// loaded the dataset and started, before the download; PeakRSS is the
	// peak when the download had succeeded. Both in bytes.
	LoadedRSS, PeakRSS int64
	// SubmitRSS is the resident memory (VmRSS) when the download was
	// submitted, the dataset loaded; DuringRSS the most it reached while the
	// download ran: VmRSS sampled every 50 ms, or VmHWM at the end when that
	// rose during the download. Both in bytes.
	SubmitRSS, DuringRSS int64
	// DuringAnonRSS is the most anonymous memory (RssAnon: heap, stacks,
	// not files mapped in) of the samples taken while the download ran.
	DuringAnonRSS int64
	// CPU is the CPU time the worker process used from the submit to the
	// download's success.
	CPU time.Duration
	// Job is the download job, ended.
	Job jobs.Job
}

// DownloadPeakRSS starts a worker process, waits until its asynq server has
// started (it loads the dataset first), submits through the stack a CSV
// download of records people (every record, no query), waits until the job
// has succeeded, and returns the process's peak resident memory at both
// points. It stops the process (SIGTERM) and waits for it before it
// returns, whatever happened.
func DownloadPeakRSS(ctx context.Context, p WorkerProcess, s *Stack, records int64) (WorkerMemory, error) {
	var m WorkerMemory
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	addr, err := freeAddr(ctx)
	if err != nil {
		return m, err
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
	cmd.Env = append(cmd.Env, p.Env...)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		stop()
		return m, fmt.Errorf("start worker: %w", err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() { stop(); <-exited }()
	pid := cmd.Process.Pid

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// wait waits for the next tick, or says why there is none.
	wait := func(what string) error {
		select {
		case <-exited:
			return fmt.Errorf("worker exited (%w) while %s: %s", exitErr, what, out.String())
		case <-ctx.Done():
			return fmt.Errorf("%s: %w; worker output: %s", what, ctx.Err(), out.String())
		case <-tick.C:
			return nil
		}
	}
	for started := false; !started; {
		if err := wait("loading the dataset"); err != nil {
			return m, err
		}
		servers, err := s.inspector.Servers()
		if err != nil {
			return m, fmt.Errorf("asynq servers: %w", err)
		}
		started = slices.ContainsFunc(servers, func(si *asynq.ServerInfo) bool { return si.PID == pid })
	}
	if m.LoadedRSS, err = peakRSS(pid); err != nil {
		return m, err
	}
	if m.SubmitRSS, err = currentRSS(pid); err != nil {
		return m, err
	}
	cpuBefore, err := procCPU(pid)
	if err != nil {
		return m, err
	}
	m.DuringRSS = m.SubmitRSS
	if m.DuringAnonRSS, err = currentAnonRSS(pid); err != nil {
		return m, err
	}

	m.Job, err = s.Service.Submit(ctx, s.Account, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: records, Format: jobs.CSV})
	if err != nil {
		return m, fmt.Errorf("submit download: %w", err)
	}
	id := m.Job.ID
	for {
		if err := wait("downloading " + id); err != nil {
			return m, err
		}
		rss, err := currentRSS(pid)
		if err != nil {
			return m, err
		}
		m.DuringRSS = max(m.DuringRSS, rss)
		anon, err := currentAnonRSS(pid)
		if err != nil {
			return m, err
		}
		m.DuringAnonRSS = max(m.DuringAnonRSS, anon)
		if m.Job, err = s.Service.Get(ctx, s.Account, id); err != nil {
			return m, fmt.Errorf("download %s: %w", id, err)
		}
		switch m.Job.Status {
		case jobs.Succeeded:
			cpuAfter, err := procCPU(pid)
			if err != nil {
				return m, err
			}
			m.CPU = cpuAfter - cpuBefore
			if m.PeakRSS, err = peakRSS(pid); err != nil {
				return m, err
			}
			if m.PeakRSS > m.LoadedRSS {
				m.DuringRSS = max(m.DuringRSS, m.PeakRSS)
			}
			return m, nil
		case jobs.Failed, jobs.Canceled:
			return m, fmt.Errorf("download %s %s: %s; worker output: %s", id, m.Job.Status, m.Job.Error, out.String())
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

// parseKB reads a /proc size such as "  123456 kB" into bytes.
func parseKB(s string) (int64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("peak rss: %q is not a size in kB", s)
	}
	return n << 10, nil
}

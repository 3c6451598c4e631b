// Package toxiproxy starts a real toxiproxy-server on a free loopback port
// and puts network faults between creditrun's processes and what they talk
// to (Redis, S3): latency, connections reset or cut after some bytes,
// squeezed bandwidth, stalls and full partitions.
//
// It exists for the fault suite, which checks that money stays exact when
// the network misbehaves. The server runs as a child process in its own
// process group, killed when the test ends or, on Linux, when the test
// binary dies (Pdeathsig), like the servers of internal/redisserver.
// `make tools` installs the server as toxiproxy-server; the proxies and
// toxics are driven with toxiproxy's official client.
package toxiproxy

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	tp "github.com/Shopify/toxiproxy/v2/client"
)

// ErrNotFound is returned by Start when no toxiproxy-server executable is
// found on PATH or in $GOPATH/bin.
var ErrNotFound = errors.New("toxiproxy-server not found")

// Defaults of Options.
const (
	DefaultStartTimeout = 30 * time.Second
	// DefaultBinary is the name `make tools` installs the server under.
	DefaultBinary = "toxiproxy-server"

	bindAttempts = 5
	logTailLines = 20
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Binary is the server executable, looked up in PATH and then in
	// $GOPATH/bin. Defaults to "toxiproxy-server".
	Binary string
	// StartTimeout bounds the wait for the server's API to answer.
	// Defaults to DefaultStartTimeout.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	return o
}

// Server is one running toxiproxy-server. Close it when done.
type Server struct {
	port   int
	dir    string
	cmd    *exec.Cmd
	client *tp.Client

	exited  chan struct{}
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

// LookPath returns the path of the server executable named bin: from PATH,
// else from $GOPATH/bin (where `make tools` installs it, which a plain
// `go test` may not have on PATH). It returns an error wrapping
// ErrNotFound when there is none.
func LookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	if !strings.ContainsRune(bin, filepath.Separator) {
		for _, dir := range filepath.SplitList(build.Default.GOPATH) {
			p := filepath.Join(dir, "bin", bin)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s is neither on PATH nor in $GOPATH/bin", ErrNotFound, bin)
}

// Start starts a toxiproxy-server whose API listens on a free port of
// 127.0.0.1 and returns once the API answers.
//
// It returns an error wrapping ErrNotFound when the server is not
// installed, and an error quoting the tail of its log when it does not
// answer within opts.StartTimeout.
func Start(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	bin, err := LookPath(opts.Binary)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range bindAttempts {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s, err := startOn(bin, port, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("toxiproxy-server: no free port after %d attempts: %w", bindAttempts, lastErr)
}

var errPortInUse = errors.New("port in use")

func startOn(bin string, port int, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "toxiproxy-")
	if err != nil {
		return nil, fmt.Errorf("toxiproxy-server: temp dir: %w", err)
	}
	logPath := filepath.Join(dir, "toxiproxy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("toxiproxy-server: log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port)) //nolint:noctx // lives until Close
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Quiet: toxiproxy logs every connection at info level.
	cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("toxiproxy-server: start %s: %w", bin, err)
	}
	s := &Server{port: port, dir: dir, cmd: cmd, exited: make(chan struct{})}
	s.client = tp.NewClient(s.APIAddr())
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(opts.StartTimeout); err != nil {
		b, _ := os.ReadFile(logPath)
		tail := lastLines(string(b), logTailLines)
		_ = s.Close()
		if strings.Contains(tail, "address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("toxiproxy-server on port %d: %w\n--- last lines of its log ---\n%s", port, err, tail)
	}
	return s, nil
}

// waitReady polls the API's /version until it answers, the process exits
// or timeout passes.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := http.Client{Timeout: time.Second}
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("exited before answering: %w", s.waitErr)
		default:
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+s.APIAddr()+"/version", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /version: %s", resp.Status)
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %v: %w", timeout, lastErr)
}

// APIAddr returns the "127.0.0.1:PORT" of the server's HTTP API.
func (s *Server) APIAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns toxiproxy's own client for the server, for what this
// package does not wrap.
func (s *Server) Client() *tp.Client { return s.client }

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Close kills the server (and with it every proxy), waits for it to exit
// and removes its directory. Safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		killGroup(s.cmd.Process.Pid)
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
		s.closeErr = os.RemoveAll(s.dir)
	})
	return s.closeErr
}

// FreePort returns a port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

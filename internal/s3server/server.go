package s3server

import (
	"context"
	"errors"
	"fmt"
	"io"
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
)

// ErrNotFound is returned by Start when the versitygw executable is not on
// PATH (nor in $GOPATH/bin, where `make test` installs it).
var ErrNotFound = errors.New("versitygw not found: run `make test`, which installs it")

// Defaults of Options.
const (
	DefaultStartTimeout = 15 * time.Second
	// DefaultAccessKey and DefaultSecretKey are the root keys every server
	// starts with unless Options say otherwise. They are test keys, valid on
	// loopback servers only.
	DefaultAccessKey = "creditrun-test-access"
	DefaultSecretKey = "creditrun-test-secret-0123456789"
	// DefaultRegion is the region the server signs and checks with.
	DefaultRegion = "us-east-1"
	defaultBinary = "versitygw"

	// bindAttempts bounds the retries when a port picked as free is taken
	// before versitygw binds it.
	bindAttempts = 5
	// logTailLines is how much of a server's log an error quotes.
	logTailLines = 20
	// serverHeader is what versitygw answers in its Server header.
	serverHeader = "VERSITYGW"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Binary is the versitygw executable, looked up in PATH and then in
	// $GOPATH/bin. Defaults to "versitygw".
	Binary string
	// AccessKey and SecretKey are the root credentials. Default to
	// DefaultAccessKey and DefaultSecretKey.
	AccessKey, SecretKey string
	// Region is the server's region. Defaults to DefaultRegion.
	Region string
	// StartTimeout bounds the wait for the server to answer. Defaults to
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Binary == "" {
		o.Binary = defaultBinary
	}
	if o.AccessKey == "" {
		o.AccessKey = DefaultAccessKey
	}
	if o.SecretKey == "" {
		o.SecretKey = DefaultSecretKey
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	return o
}

// Server is a versitygw serving a temporary directory on a port of
// 127.0.0.1. Its methods are safe for concurrent use. Close it when done.
type Server struct {
	bin  string
	opts Options
	port int
	// dir holds root/ (the posix backend's root: one directory a bucket)
	// and versitygw.log.
	dir string

	mu     sync.Mutex
	proc   *process // nil while stopped
	closed bool
}

// process is one run of versitygw.
type process struct {
	cmd *exec.Cmd
	// exited is closed when the process has exited; waitErr is then set.
	exited  chan struct{}
	waitErr error
}

// Start starts versitygw on a free port of 127.0.0.1 with the posix backend
// on a fresh temporary directory, and returns once it answers HTTP.
//
// It returns an error wrapping ErrNotFound when versitygw is not installed,
// and one quoting the tail of the server's log when the server does not
// answer within opts.StartTimeout.
func Start(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	bin, err := lookPath(opts.Binary)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range bindAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "s3server-")
		if err != nil {
			return nil, fmt.Errorf("versitygw: temp dir: %w", err)
		}
		if err := os.Mkdir(filepath.Join(dir, "root"), 0o755); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("versitygw: root dir: %w", err)
		}
		s := &Server{bin: bin, opts: opts, port: port, dir: dir}
		s.mu.Lock()
		err = s.startLocked()
		s.mu.Unlock()
		if err == nil {
			return s, nil
		}
		_ = os.RemoveAll(dir)
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("versitygw: no free port after %d attempts: %w", bindAttempts, lastErr)
}

// lookPath finds name on PATH, then in $GOPATH/bin (or ~/go/bin), where
// `go install` puts it even when that directory is not on PATH.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		for d := range strings.SplitSeq(gp, string(os.PathListSeparator)) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	} else if home, herr := os.UserHomeDir(); herr == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		if p, lerr := exec.LookPath(filepath.Join(d, name)); lerr == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %w", ErrNotFound, err)
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// startLocked starts versitygw on s.port and s.dir and waits until it
// answers. s.mu is held.
func (s *Server) startLocked() error {
	logPath := filepath.Join(s.dir, "versitygw.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("versitygw: log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	args := []string{
		"--port", s.Addr(),
		"--access", s.opts.AccessKey,
		"--secret", s.opts.SecretKey,
		"--region", s.opts.Region,
		"--quiet",
		"posix", filepath.Join(s.dir, "root"),
	}
	cmd := exec.Command(s.bin, args...) //nolint:noctx // the server lives until Stop or Close, not until a context ends
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Keep the environment, minus the ROOT_*/VGW_* variables that would
	// override these flags or turn on features the tests do not expect.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VGW_") && !strings.HasPrefix(kv, "ROOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("versitygw: start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(s.Endpoint(), s.opts.StartTimeout); err != nil {
		p.kill()
		tail := logTail(logPath, logTailLines)
		if strings.Contains(tail, "address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("versitygw on %s: %w\n--- last lines of its log ---\n%s", s.Addr(), err, tail)
	}
	s.proc = p
	return nil
}

// waitReady polls endpoint until versitygw answers there and this process
// is still running (a versitygw that could not bind the port exits), the
// process exits, or timeout passes.
func (p *process) waitReady(endpoint string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for {
		lastErr = ping(ctx, client, endpoint)
		if lastErr == nil {
			select {
			case <-p.exited:
				return fmt.Errorf("%w: exited while another server answers on the port: %w", errPortInUse, p.waitErr)
			default:
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before answering: %w", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v: %w", timeout, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping sends an anonymous GET to endpoint and checks that versitygw
// answers (it refuses the request, which is enough).
func ping(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if got := resp.Header.Get("Server"); got != serverHeader {
		return fmt.Errorf("%w: the server on the port says it is %q", errPortInUse, got)
	}
	return nil
}

// kill sends SIGKILL to the process group and the process, and waits for
// it to exit.
func (p *process) kill() {
	killGroup(p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Addr returns the server's "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Endpoint returns the server's base URL, "http://127.0.0.1:PORT", the form
// of CREDITRUN_S3_ENDPOINT.
func (s *Server) Endpoint() string { return "http://" + s.Addr() }

// AccessKey returns the root access key id.
func (s *Server) AccessKey() string { return s.opts.AccessKey }

// SecretKey returns the root secret access key.
func (s *Server) SecretKey() string { return s.opts.SecretKey }

// Region returns the server's region.
func (s *Server) Region() string { return s.opts.Region }

// Dir returns the posix backend's root: one directory a bucket.
func (s *Server) Dir() string { return filepath.Join(s.dir, "root") }

// Pid returns the running server's process id, or 0 while it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit, keeping its port and directory for Restart. Stopping a stopped
// server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("versitygw: closed")
	}
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	return nil
}

// Restart starts the server again on the same port and directory (stopping
// it first if it runs) and returns once it answers. It fails when another
// process took the port meanwhile.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("versitygw: closed")
	}
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	return s.startLocked()
}

// Close kills the server and removes its directory. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	return os.RemoveAll(s.dir)
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("versitygw: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines of the file at path, or a note saying
// why it could not be read.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

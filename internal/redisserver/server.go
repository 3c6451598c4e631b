package redisserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotFound is returned by Start and StartCluster when the redis-server
// (or, for a cluster, redis-cli) executable is not on PATH.
var ErrNotFound = errors.New("redis-server not found")

// Defaults of Options.
const (
	DefaultStartTimeout = time.Minute
	defaultBinary       = "redis-server"
	defaultCLI          = "redis-cli"

	// bindAttempts bounds the retries when a port picked as free is taken
	// before redis-server binds it.
	bindAttempts = 5
	// logTailLines is how much of a server's log an error quotes.
	logTailLines = 20
)

// Options configure Start and StartCluster. The zero value is ready to use.
type Options struct {
	// Args are extra redis-server arguments, appended after the ones this
	// package sets, so they can override them, e.g.
	// []string{"--maxmemory-policy", "noeviction"}. Defaults to none.
	Args []string

	// StartTimeout bounds the wait for a server to answer PING, and for a
	// cluster to report cluster_state:ok. Defaults to DefaultStartTimeout.
	StartTimeout time.Duration

	// Binary is the redis-server executable, looked up in PATH.
	// Defaults to "redis-server".
	Binary string

	// CLI is the redis-cli executable that StartCluster uses to create the
	// cluster, looked up in PATH. Defaults to "redis-cli".
	CLI string

	// AppendFsync, when set, turns the append-only file on (appendonly yes)
	// with this fsync policy: "always", "everysec" or "no". A server killed
	// with Kill and started again with Restart replays it. Defaults to ""
	// (persistence off).
	AppendFsync string

	// MaxMemory, when set, caps the server's memory (maxmemory, e.g. "8mb")
	// with maxmemory-policy noeviction: writes past it fail with OOM and no
	// key is ever evicted, as creditrun's Redis runs in production.
	// Defaults to "" (no cap).
	MaxMemory string
}

// persistArgs returns the redis-server arguments of AppendFsync and
// MaxMemory.
func (o Options) persistArgs() []string {
	var args []string
	if o.AppendFsync != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", o.AppendFsync)
	}
	if o.MaxMemory != "" {
		args = append(args, "--maxmemory", o.MaxMemory, "--maxmemory-policy", "noeviction")
	}
	return args
}

func (o Options) withDefaults() Options {
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Binary == "" {
		o.Binary = defaultBinary
	}
	if o.CLI == "" {
		o.CLI = defaultCLI
	}
	return o
}

// Server is one running redis-server process. Close it when done.
type Server struct {
	port int
	dir  string
	// args are the process's arguments, kept for Restart.
	args []string
	bin  string
	// startTimeout bounds the wait for PING at a start or restart.
	startTimeout time.Duration

	// mu guards cmd and exited, which Restart replaces.
	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the process has exited; waitErr is then set.
	exited  chan struct{}
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

// Start starts a redis-server on a free port of 127.0.0.1, with persistence
// off (--save "" --appendonly no) and a fresh temporary directory, and
// returns once it answers PING.
//
// It returns an error wrapping ErrNotFound when redis-server is not
// installed, and an error quoting the tail of the server's log when the
// server does not answer within opts.StartTimeout.
func Start(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return startWithPorts(bin, opts, nil, freePort)
}

// startWithPorts starts a server on a port from pick, retrying with a new
// port when the server could not bind the one it was given. extra, when not
// nil, gives more arguments given the server's directory.
func startWithPorts(bin string, opts Options, extra func(dir string) []string, pick func() (int, error)) (*Server, error) {
	var lastErr error
	for range bindAttempts {
		port, err := pick()
		if err != nil {
			return nil, err
		}
		srv, err := startOn(bin, port, opts, extra)
		if err == nil {
			return srv, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("redis-server: no free port after %d attempts: %w", bindAttempts, lastErr)
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// startOn starts redis-server on port and waits for it to answer PING.
func startOn(bin string, port int, opts Options, extra func(dir string) []string) (*Server, error) {
	return startBuilt(bin, port, opts, func(dir string) ([]string, error) {
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--daemonize", "no",
			"--dir", dir,
			"--logfile", "",
		}
		args = append(args, opts.persistArgs()...)
		if extra != nil {
			args = append(args, extra(dir)...)
		}
		return append(args, opts.Args...), nil
	})
}

// startBuilt makes the server's directory, starts bin there with the
// arguments build gives for it, and waits for the server on port to answer
// PING.
func startBuilt(bin string, port int, opts Options, build func(dir string) ([]string, error)) (*Server, error) {
	dir, err := os.MkdirTemp("", "redisserver-")
	if err != nil {
		return nil, fmt.Errorf("redis-server: temp dir: %w", err)
	}
	args, err := build(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{port: port, dir: dir, args: args, bin: bin, startTimeout: opts.StartTimeout}
	if err := s.launch(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(opts.StartTimeout); err != nil {
		tail := logTail(s.logPath(), logTailLines)
		_ = s.Close()
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("redis-server on port %d: %w\n--- last lines of its log ---\n%s", port, err, tail)
	}
	return s, nil
}

// logPath is the file the server's output goes to, kept across restarts.
func (s *Server) logPath() string { return filepath.Join(s.dir, "redis.log") }

// launch starts the process with s.args, its output appended to the log.
func (s *Server) launch() error {
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("redis-server: log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(s.bin, s.args...) //nolint:noctx // the server lives until Close, not until a context ends
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	return nil
}

// proc returns the current process and its exit channel.
func (s *Server) proc() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.exited
}

// Kill sends SIGKILL to the server, as a crash of its host would stop it,
// and waits for it to exit. Its directory (and so its append-only file) is
// kept for Restart. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	cmd, exited := s.proc()
	kill(cmd.Process)
	<-exited
}

// Restart starts the server again after Kill, on the same port and
// directory with the same arguments, and waits for it to answer PING: with
// AppendFsync set, it has replayed its append-only file by then. It
// returns an error quoting the tail of the server's log when the server
// does not come back within the start timeout.
func (s *Server) Restart() error {
	s.Kill() // a no-op when it is down already
	if err := s.launch(); err != nil {
		return err
	}
	if err := s.waitReady(s.startTimeout); err != nil {
		return fmt.Errorf("redis-server restart on port %d: %w\n--- last lines of its log ---\n%s", s.port, err, logTail(s.logPath(), logTailLines))
	}
	return nil
}

// Running reports whether the server's process is up (it may not have
// answered PING yet).
func (s *Server) Running() bool {
	_, exited := s.proc()
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Dir returns the server's directory, which holds its append-only file
// and its log (redis.log).
func (s *Server) Dir() string { return s.dir }

// waitReady polls until the server answers PING and reports its own pid
// (so that another process that took the port is not mistaken for it),
// the process exits, or timeout passes.
func (s *Server) waitReady(timeout time.Duration) error {
	cmd, exited := s.proc()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Stop a pending exchange as soon as the process exits: whatever holds
	// the port then may accept and never answer.
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	var lastErr error
	for {
		pid, err := serverPID(ctx, s.Addr())
		switch {
		case err == nil && pid == cmd.Process.Pid:
			return nil
		case err == nil:
			lastErr = fmt.Errorf("%w: another process (pid %d) answers on the port", errPortInUse, pid)
		default:
			lastErr = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
			continue
		}
		select {
		case <-exited:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("exited before answering PING: %w", err)
		default:
			return fmt.Errorf("no answer to PING within %v: %w", timeout, lastErr)
		}
	}
}

// Addr returns the server's "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's "redis://127.0.0.1:PORT/0", the form of
// CREDITRUN_REDIS_URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Close kills the server, waits for it to exit and removes its temporary
// directory. It is safe to call more than once; later calls return the
// first call's error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.Kill() // the process is reaped by the goroutine started in launch
		s.closeErr = os.RemoveAll(s.dir)
	})
	return s.closeErr
}

// Pid returns the server's process id (of its latest start).
func (s *Server) Pid() int {
	cmd, _ := s.proc()
	return cmd.Process.Pid
}

// kill sends SIGKILL to the process group the server leads, and to the
// process itself in case it has none.
func kill(p *os.Process) {
	killGroup(p.Pid)
	_ = p.Signal(syscall.SIGKILL)
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := listen("127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redis-server: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listen listens on addr of TCP.
func listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", addr)
}

// logTail returns the last n lines of the file at path, or a note saying
// why it could not be read.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), n)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serverPID asks the server at addr for INFO server and returns its
// process_id. It speaks just enough RESP for that, so that polling a server
// that is not up yet logs nothing.
func serverPID(ctx context.Context, addr string) (int, error) {
	info, err := command(ctx, addr, "INFO", "server")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO server has no process_id")
}

// command sends one command on a new connection and returns the reply,
// which must be a simple or bulk string.
func command(ctx context.Context, addr string, args ...string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))

	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}

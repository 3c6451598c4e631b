// Command docscheck runs the shell blocks that the docs mark as runnable
// against a fresh `creditrun dev`, so that the commands the docs show keep
// working as written. `make docs-check` runs it, and `make test` runs that.
//
// A block is runnable when the line before its opening fence is the
// comment <!-- check -->:
//
//	<!-- check -->
//	```sh
//	bin/creditrun account
//	```
//
// The runnable blocks of one file run in order in one bash (set -euo
// pipefail), so a later block sees the variables and functions of an
// earlier one, in a directory of their own where bin/creditrun is the
// binary under test. They get CREDITRUN_URL, CREDITRUN_KEY and K (the demo
// key) and A (the admin key) of the `creditrun dev` that docscheck starts
// on a free port with a temporary data dir; no other CREDITRUN_ variable
// reaches them. A file fails on the first command that exits non-zero; -v
// prints what the blocks print when they pass too.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// marker is the line that makes the next fenced sh block runnable.
const marker = "<!-- check -->"

// verbose prints the blocks' output when they pass too (-v).
var verbose bool

// fileTimeout bounds the blocks of one file.
const fileTimeout = 2 * time.Minute

func main() {
	bin := flag.String("bin", "bin/creditrun", "the creditrun binary to run and to put at bin/creditrun for the blocks")
	flag.BoolVar(&verbose, "v", false, "print what the blocks print, also when they pass")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: docscheck [-bin bin/creditrun] FILE.md...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*bin, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "docs-check:", err)
		os.Exit(1)
	}
}

// block is one runnable block: its file, the line of its first command,
// and its text.
type block struct {
	file string
	line int
	text string
}

// extract returns the runnable blocks of the markdown in r.
func extract(name string, r io.Reader) ([]block, error) {
	var (
		out     []block
		marked  bool // the last non-empty line was the marker
		in      bool // inside a runnable block
		cur     block
		lineNum int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lineNum++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case in && trimmed == "```":
			out = append(out, cur)
			in = false
		case in:
			cur.text += line + "\n"
		case trimmed == marker:
			marked = true
		case marked && (trimmed == "```sh" || trimmed == "```bash"):
			in, marked = true, false
			cur = block{file: name, line: lineNum + 1}
		case marked && trimmed != "":
			return nil, fmt.Errorf("%s:%d: %s is not followed by a ```sh block", name, lineNum, marker)
		}
	}
	if in {
		return nil, fmt.Errorf("%s:%d: runnable block not closed", name, cur.line)
	}
	return out, sc.Err()
}

func run(bin string, files []string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the binary: %w (make build makes it)", err)
	}
	var all [][]block
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		bs, err := extract(f, fh)
		fh.Close()
		if err != nil {
			return err
		}
		if len(bs) > 0 {
			all = append(all, bs)
		}
	}
	tmp, err := os.MkdirTemp("", "creditrun-docs-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	d, err := startDev(bin, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer d.stop()
	env := blockEnv(d)
	for i, bs := range all {
		dir := filepath.Join(tmp, "work", fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(bin, filepath.Join(dir, "bin", "creditrun")); err != nil {
			return err
		}
		if err := runFile(dir, env, bs); err != nil {
			return err
		}
		fmt.Printf("docs-check: %s: %d runnable block(s) ok\n", bs[0].file, len(bs))
	}
	return nil
}

// runFile runs the blocks of one file in one bash in dir, and returns an
// error naming the block that failed, with the output.
func runFile(dir string, env []string, bs []block) error {
	var sb strings.Builder
	sb.WriteString("set -euo pipefail\n")
	sb.WriteString(`trap 'echo "docs-check: a command failed (exit $?) in the block at $DOCS_CHECK_BLOCK" >&2' ERR` + "\n")
	for _, b := range bs {
		fmt.Fprintf(&sb, "DOCS_CHECK_BLOCK=%q\n", fmt.Sprintf("%s:%d", b.file, b.line))
		if verbose {
			fmt.Fprintf(&sb, "echo '>>> %s:%d'\n", b.file, b.line)
		}
		sb.WriteString(b.text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), fileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", sb.String())
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: the runnable blocks took over %s:\n%s", bs[0].file, fileTimeout, out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w:\n%s", bs[0].file, err, out)
	}
	if verbose {
		os.Stdout.Write(out)
	}
	return nil
}

// dev is the `creditrun dev` the blocks run against.
type dev struct {
	cmd         *exec.Cmd
	url         string
	demo, admin string
	done        chan error
	log         *os.File
}

var (
	demoKeyRe  = regexp.MustCompile(`demo key:\s+(\S+)`)
	adminKeyRe = regexp.MustCompile(`admin key:\s+(\S+)`)
)

// startDev starts `creditrun dev` on a free loopback port and dataDir, and
// returns once it answers /healthz, with the keys its banner printed.
func startDev(bin, dataDir string) (*dev, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	log, err := os.CreateTemp("", "creditrun-docs-check-dev-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "dev")
	cmd.Env = append(cleanEnv(), "CREDITRUN_DATA_DIR="+dataDir, "CREDITRUN_HTTP_ADDR="+addr)
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &dev{cmd: cmd, url: "http://" + addr, done: make(chan error, 1), log: log}
	keys := make(chan [2]string, 1)
	go func() {
		var demo, admin string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := demoKeyRe.FindStringSubmatch(sc.Text()); m != nil {
				demo = m[1]
			}
			if m := adminKeyRe.FindStringSubmatch(sc.Text()); m != nil {
				admin = m[1]
			}
			if demo != "" && admin != "" {
				keys <- [2]string{demo, admin}
				demo = ""
			}
		}
	}()
	go func() { d.done <- cmd.Wait() }()
	select {
	case k := <-keys:
		d.demo, d.admin = k[0], k[1]
	case err := <-d.done:
		d.done <- err
		return nil, fmt.Errorf("creditrun dev stopped: %w (its log: %s)", err, log.Name())
	case <-time.After(2 * time.Minute):
		d.stop()
		return nil, fmt.Errorf("creditrun dev printed no keys in 2 minutes (its log: %s)", log.Name())
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("creditrun dev on %s is not healthy: %w", addr, err)
		}
	}
}

// stop stops creditrun dev with SIGINT, as Ctrl-C does, and removes its
// log; a dev that does not stop in 30 seconds is killed.
func (d *dev) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	_ = d.log.Close()
	_ = os.Remove(d.log.Name())
}

// blockEnv is the environment of the blocks: the process's, without its
// CREDITRUN_ variables, and with the dev's URL and keys.
func blockEnv(d *dev) []string {
	return append(cleanEnv(),
		"CREDITRUN_URL="+d.url, "CREDITRUN_KEY="+d.demo, "K="+d.demo, "A="+d.admin)
}

// cleanEnv is the process's environment without CREDITRUN_ variables, so
// that nothing of the caller's setup (a real API's URL or key) reaches the
// blocks or the dev.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CREDITRUN_") {
			env = append(env, kv)
		}
	}
	return env
}

// freePort is a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("no TCP address")
	}
	return addr.Port, nil
}

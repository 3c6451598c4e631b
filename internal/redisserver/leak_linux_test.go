package redisserver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const helperEnv = "REDISSERVER_TEST_HELPER"

// TestHelperProcess is not a test: TestNoLeakWhenParentKilled runs the test
// binary again with helperEnv set, and this starts a server, prints its
// pid, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestNoLeakWhenParentKilled")
	}
	s, err := Start(Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("pid:", s.Pid(), s.dir)
	time.Sleep(time.Minute)
	os.Exit(1)
}

// TestNoLeakWhenParentKilled kills a process that started a server without
// closing it, and checks that the server dies too.
func TestNoLeakWhenParentKilled(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "pid: "); ok {
			p, dir, _ := strings.Cut(v, " ")
			pid, err = strconv.Atoi(p)
			if err != nil || dir == "" {
				t.Fatalf("helper printed %q", line)
			}
			// The killed helper cannot remove its server's directory.
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			break
		}
		if strings.HasPrefix(line, "error:") {
			t.Fatalf("helper: %s", line)
		}
	}
	if pid == 0 {
		t.Fatalf("helper printed no pid (scan error: %v)", sc.Err())
	}
	if !alive(pid) {
		t.Fatalf("server %d is not running while its parent is", pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server %d outlived its killed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs and is not a zombie (a container's init
// may never reap an orphan).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

//go:build linux

package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunStopsOnSIGINTToMake runs `creditrun dev` as `make run` does
// (make execs the binary from its recipe), sends SIGINT to make's pid alone,
// and checks that creditrun stops, saving its state, and make exits.
func TestMakeRunStopsOnSIGINTToMake(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	if signal.Ignored(os.Interrupt) {
		t.Skip("this process ignores SIGINT, and so would make (started in the background by a shell)")
	}
	dir := t.TempDir()
	mk := filepath.Join(dir, "Makefile")
	recipe := fmt.Sprintf("run:\n\texec %s dev\n", binary(t))
	if err := os.WriteFile(mk, []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	cmd := exec.Command("make", "--no-print-directory", "-f", mk, "run")
	cmd.Env = append(os.Environ(), "CREDITRUN_DATA_DIR="+dataDir, "CREDITRUN_HTTP_ADDR="+addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // signals to the test's group miss it
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group, should the test fail midway
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(publicURL(addr) + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creditrun dev under make did not start:\n%s", out.String())
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil { // make's pid only
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("make and creditrun dev still run a minute after SIGINT to make:\n%s", out.String())
	}
	if resp, err := http.Get(publicURL(addr) + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("creditrun dev still answers after make exited")
	}
	if _, err := os.Stat(devStoreFile(dataDir)); err != nil {
		t.Errorf("no saved store after the stop: %v\n%s", err, out.String())
	}
}

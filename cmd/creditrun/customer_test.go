//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// customerRun runs the built binary with the API's URL and key in its
// environment, and returns its exit status and outputs.
func customerRun(t *testing.T, s *stack, key string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CREDITRUN_URL=" + s.base, "CREDITRUN_KEY=" + key}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// cliJob decodes the --json output of a command that prints a job.
func cliJob(t *testing.T, stdout string) jobJSON {
	t.Helper()
	var j jobJSON
	if err := json.Unmarshal([]byte(stdout), &j); err != nil || j.ID == "" {
		t.Fatalf("not a job (%v): %s", err, stdout)
	}
	return j
}

// csvRows counts the data rows of a CSV file with a header row.
func csvRows(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")) - 1
}

// TestCustomerCLI runs the customer commands of the built binary against
// one `creditrun all` stack: submit with --wait, results, an enrichment
// from a CSV file, account and ledger, and the exit statuses of a 402, a
// bad flag and a bad subcommand; and the progress bar under a terminal.
func TestCustomerCLI(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	binary(t)

	t.Run("search --wait --json, plain progress lines off a terminal", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "5", "--wait", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		j := cliJob(t, out)
		if j.Status != "succeeded" || j.Kind != "search" || j.TotalCost != 5 || len(j.Records) == 0 {
			t.Errorf("job %+v", j)
		}
		if !strings.Contains(errOut, "job "+j.ID+": succeeded (5/5)\n") || strings.Contains(errOut, "█") {
			t.Errorf("progress off a terminal:\n%s", errOut)
		}
	})

	t.Run("download, then results --out", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		code, out, errOut := customerRun(t, s, key, "submit", "download", "--data-type", "people", "--query", "*", "--num-records", "25", "--format", "csv", "--wait", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		j := cliJob(t, out)
		if j.Status != "succeeded" || len(j.Results) != 1 {
			t.Fatalf("job %+v", j)
		}
		dir := filepath.Join(t.TempDir(), "out")
		code, out, errOut = customerRun(t, s, key, "results", j.ID, "--out", dir)
		if code != 0 || !strings.Contains(out, "1 file(s) in "+dir) {
			t.Fatalf("results: exit %d\n%s\n%s", code, out, errOut)
		}
		if n := csvRows(t, filepath.Join(dir, "1.csv")); n != 25 {
			t.Errorf("1.csv has %d rows, want 25", n)
		}
	})

	t.Run("enrichment from a CSV items file", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		items := filepath.Join(t.TempDir(), "items.csv")
		if err := os.WriteFile(items, []byte("tracking_id,id\nt1,per_00000001\nt2,per_00000002\nt3,per_00000003\nt4,per_nope\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := customerRun(t, s, key, "submit", "enrichment", "--data-type", "people", "--match-on", "id", "--items", items, "--format", "csv", "--wait")
		if code != 0 || !strings.Contains(out, "status:           succeeded") || !strings.Contains(out, "credits reserved: 4") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		id := strings.Fields(strings.TrimPrefix(out, "job "))[0]
		id = strings.TrimSuffix(id, ":")
		dir := t.TempDir()
		if code, out, errOut := customerRun(t, s, key, "results", id, "--out", dir); code != 0 {
			t.Fatalf("results: exit %d\n%s\n%s", code, out, errOut)
		}
		if n := csvRows(t, filepath.Join(dir, "1.csv")); n != 4 {
			t.Errorf("1.csv has %d rows, want 4 (one per item)", n)
		}
	})

	t.Run("account and ledger", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		if code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "3", "--wait"); code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut := customerRun(t, s, key, "account")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var row string
		for line := range strings.SplitSeq(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "people" {
				row = strings.Join(f[:6], " ")
			}
		}
		if !strings.Contains(out, "POOL") || !strings.Contains(out, "OVERAGE OUTSTANDING") || row != "people 1000 3 0 997 0" {
			t.Errorf("account table (people row %q):\n%s", row, out)
		}
		code, out, errOut = customerRun(t, s, key, "ledger", "--pool", "people", "--json")
		if code != 0 {
			t.Fatalf("ledger: exit %d\n%s\n%s", code, out, errOut)
		}
		var l struct {
			Entries []entryJSON `json:"entries"`
		}
		if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Entries) == 0 || l.Entries[len(l.Entries)-1].AvailableAfter != 997 {
			t.Errorf("ledger (%v): %s", err, out)
		}
	})

	t.Run("exit 3 on insufficient credits", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99")
		s.setAvailable(t, acct, key, "people", 2)
		code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "5", "--on-insufficient", "reject")
		if code != 3 || !strings.Contains(errOut, "insufficient credits in pool people: 5 required, 2 available") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
		if p := s.pool(t, key, "people"); p.Available != 2 || p.Reserved != 0 {
			t.Errorf("pool after a refused submit %+v", p)
		}
	})

	t.Run("exit 2 on a usage error", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		for _, args := range [][]string{
			{"submit", "search", "--data-type", "people", "--bogus"},
			{"submit", "search", "--data-type", "people", "--query", "*"},
			{"submit", "lookup"},
			{"jobs", "frob"},
			{"jobs", "get"},
			{"results", "job1"},
			{"ledger", "--limit", "lots"},
		} {
			if code, out, errOut := customerRun(t, s, key, args...); code != 2 {
				t.Errorf("%q: exit %d, want 2\n%s\n%s", args, code, out, errOut)
			}
		}
		if len(s.jobsOf(t, key, "")) != 0 {
			t.Error("a usage error submitted a job")
		}
	})

	t.Run("progress bar on a terminal", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		cmd := exec.Command(binary(t), "submit", "download", "--data-type", "people", "--query", "*", "--num-records", "20", "--wait")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CREDITRUN_URL=" + s.base, "CREDITRUN_KEY=" + key}
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(tty) // ends with EIO once the process is gone
		tty.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// The bar ends full: 20 of 20 records.
		if !bytes.Contains(out, []byte("|"+strings.Repeat("█", 30)+"|")) || !bytes.Contains(out, []byte("(20/20")) {
			t.Errorf("no full progress bar on the terminal:\n%s", out)
		}
		if bytes.Contains(out, []byte(": succeeded (20/20)")) {
			t.Errorf("plain progress lines on a terminal:\n%s", out)
		}
		dir := t.TempDir()
		id := s.jobsOf(t, key, "")[0].ID
		cmd = exec.Command(binary(t), "results", id, "--out", dir)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CREDITRUN_URL=" + s.base, "CREDITRUN_KEY=" + key}
		if tty, err = pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
			t.Fatal(err)
		}
		out, _ = io.ReadAll(tty)
		tty.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("results: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("1.csv")) || !bytes.Contains(out, []byte("|"+strings.Repeat("█", 30)+"|")) {
			t.Errorf("no bar of bytes on the terminal:\n%s", out)
		}
	})
}

// TestCustomerCLICanceled waits for a job on an API without a worker and
// cancels it: the wait, and a later `jobs wait`, exit 4.
func TestCustomerCLICanceled(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true}})
	_, key := s.newAccount(t, "people-1k-99")
	cmd := exec.Command(binary(t), "submit", "download", "--data-type", "people", "--query", "*", "--num-records", "10", "--wait")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CREDITRUN_URL=" + s.base, "CREDITRUN_KEY=" + key}
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var jobs []jobJSON
	for deadline := time.Now().Add(30 * time.Second); len(jobs) == 0; time.Sleep(pollEvery) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no job submitted\n%s", errOut.String())
		}
		jobs = s.jobsOf(t, key, "")
	}
	id := jobs[0].ID
	if code, o, e := customerRun(t, s, key, "jobs", "cancel", id, "--json"); code != 0 || cliJob(t, o).Status != "canceled" {
		t.Fatalf("jobs cancel: exit %d\n%s\n%s", code, o, e)
	}
	err := cmd.Wait()
	ee, ok := errors.AsType[*exec.ExitError](err)
	if !ok || ee.ExitCode() != 4 || !strings.Contains(errOut.String(), "job "+id+" was canceled") {
		t.Errorf("submit --wait of a canceled job: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "job "+id+": queued") || !strings.Contains(errOut.String(), "job "+id+": canceled") {
		t.Errorf("no line per status off a terminal:\n%s", errOut.String())
	}
	if code, o, e := customerRun(t, s, key, "jobs", "wait", id); code != 4 || !strings.Contains(o, "status:           canceled") {
		t.Errorf("jobs wait: exit %d\n%s\n%s", code, o, e)
	}
	if p := s.pool(t, key, "people"); p.Reserved != 0 || p.Available != 1000 {
		t.Errorf("pool after the cancel %+v", p)
	}
}

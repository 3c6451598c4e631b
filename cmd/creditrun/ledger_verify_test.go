package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

// verifyStack is a ledger and a job store with the jobs service on a
// Redis, on a clock an hour behind, so that everything it did is older
// than verify's grace.
type verifyStack struct {
	url     string
	client  redis.UniversalClient
	ledger  *ledger.Redis
	store   *jobstore.Redis
	svc     *jobs.Service
	account string
	queued  jobs.Job
	hold    string
}

func newVerifyStack(t *testing.T, url string, client redis.UniversalClient) *verifyStack {
	t.Helper()
	ctx := context.Background()
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	s := &verifyStack{url: url, client: client}
	s.ledger = ledger.New(client, ledger.Options{NowFunc: past})
	s.store = jobstore.New(client, jobstore.Options{NowFunc: past})
	s.svc = jobs.NewService(jobs.Config{Ledger: s.ledger, Store: s.store, Queue: discardQueue{}, Accounts: s.store,
		Catalog: plan.Builtin(), NowFunc: past})
	acct, err := s.svc.CreateAccount(ctx, "", "Acme", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	s.account = acct.ID
	submit := func(kind jobs.Kind, n int64, policy credit.Policy) jobs.Job {
		t.Helper()
		j, err := s.svc.Submit(ctx, s.account, jobs.Spec{Kind: kind, DataType: "people", NumRecords: n, OnInsufficient: policy})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	complete := func(j jobs.Job, delivered int64) jobs.Job {
		t.Helper()
		if _, err := s.svc.Start(ctx, s.account, j.ID); err != nil {
			t.Fatal(err)
		}
		j, err := s.svc.Complete(ctx, s.account, j.ID, jobs.Outcome{Found: delivered, Delivered: delivered})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	complete(submit(jobs.Download, 5, ""), 3)
	if _, err := s.svc.Cancel(ctx, s.account, submit(jobs.Search, 7, "").ID); err != nil {
		t.Fatal(err)
	}
	s.queued = submit(jobs.Download, 4, "")
	// Overage: 2 credits left, a download of 5 owes 3, and finance pays.
	p, err := s.ledger.Pool(ctx, s.account, "people")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ledger.Adjust(ctx, s.account, "people", 2-p.Available(), "test", "adjust-1"); err != nil {
		t.Fatal(err)
	}
	over := complete(submit(jobs.Download, 5, credit.Overage), 5)
	if over.HoldID == "" {
		t.Fatalf("no hold: %+v", over)
	}
	if _, err := s.svc.PayHold(ctx, over.HoldID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	s.hold = over.HoldID
	return s
}

// run runs `creditrun ledger args...` in process against the stack's Redis.
func (s *verifyStack) run(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	env := map[string]string{"CREDITRUN_REDIS_URL": s.url}
	err := ledgerCommand(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), err
}

// endQueued marks the queued job failed without releasing its reservation:
// the state a crash between the two leaves, past the grace.
func (s *verifyStack) endQueued(t *testing.T) {
	t.Helper()
	if _, err := s.store.Update(context.Background(), s.account, s.queued.ID, []jobs.Status{jobs.Queued}, func(j *jobs.Job) {
		j.Status = jobs.Failed
		at := time.Now().Add(-time.Hour)
		j.FinishedAt = &at
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerVerifyCLI runs `creditrun ledger verify` in process: a clean
// ledger passes in text and JSON, one that is off fails with the failure
// named, and bad command lines are usage errors.
func TestLedgerVerifyCLI(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	s := newVerifyStack(t, "redis://"+srv.Addr(), c)

	out, _, err := s.run("verify")
	if err != nil || !strings.Contains(out, "ok: every check holds") || !strings.Contains(out, "checked 1 accounts, 1 pools") {
		t.Fatalf("clean: %v\n%s", err, out)
	}
	out, _, err = s.run("verify", "--json", "--account", s.account)
	if err != nil {
		t.Fatalf("clean --json: %v\n%s", err, out)
	}
	var doc struct {
		OK       bool                `json:"ok"`
		Accounts int                 `json:"accounts"`
		Checked  map[string]int64    `json:"checked"`
		Failures []map[string]string `json:"failures"`
		Warnings []map[string]string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if !doc.OK || doc.Accounts != 1 || doc.Checked["pools"] != 1 || doc.Checked["reservations"] != 4 ||
		doc.Checked["open_reservations"] != 1 || doc.Checked["holds"] != 1 || doc.Failures == nil || len(doc.Failures) != 0 || doc.Warnings == nil {
		t.Errorf("clean --json: %s", out)
	}

	s.endQueued(t)
	out, _, err = s.run("verify", "--json")
	if exitCode(err) != 1 {
		t.Fatalf("an open reservation of an ended job: exit %d (%v), want 1\n%s", exitCode(err), err, out)
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if doc.OK || len(doc.Failures) != 1 {
		t.Fatalf("failures: %s", out)
	}
	f := doc.Failures[0]
	if f["check"] != "job-reservation" || f["account"] != s.account || f["job"] != s.queued.ID || f["pool"] != "people" ||
		!strings.Contains(f["message"], "ended (failed)") || f["got"] == "" || f["want"] == "" {
		t.Errorf("failure: %v", f)
	}
	out, _, err = s.run("verify")
	if exitCode(err) != 1 || !strings.Contains(out, "FAIL "+s.account+"/people job "+s.queued.ID+" [job-reservation]") ||
		!strings.Contains(out, "not ok: 1 failures") {
		t.Errorf("text: exit %d\n%s", exitCode(err), out)
	}
	// A longer grace than the state's age lets it pass.
	if _, _, err := s.run("verify", "--grace", "2h"); err != nil {
		t.Errorf("--grace 2h: %v", err)
	}

	for _, args := range [][]string{
		{},
		{"check"},
		{"verify", "extra"},
		{"verify", "--grace", "soon"},
		{"verify", "--grace", "-1m"},
		{"verify", "--account", "a:b"},
		{"verify", "--account", "nobody"},
		{"verify", "--redis-url", "mysql://x"},
	} {
		if _, _, err := s.run(args...); exitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
	var out2, errOut bytes.Buffer
	err = ledgerCommand(context.Background(), []string{"verify"}, &out2, &errOut, func(string) string { return "" })
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "CREDITRUN_REDIS_URL") {
		t.Errorf("no Redis: %v", err)
	}
}

// TestLedgerVerifyCluster runs `creditrun ledger verify` against Redis
// Cluster.
func TestLedgerVerifyCluster(t *testing.T) {
	t.Parallel()
	cl := redisserver.ClusterT(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	s := newVerifyStack(t, cl.URL(), c)
	if out, _, err := s.run("verify"); err != nil {
		t.Fatalf("clean: %v\n%s", err, out)
	}
	if err := c.ZRem(context.Background(), "cr:holds", s.hold).Err(); err != nil {
		t.Fatal(err)
	}
	out, _, err := s.run("verify", "--account", s.account)
	if exitCode(err) != 1 || !strings.Contains(out, "hold "+s.hold+" [hold-index]") {
		t.Errorf("a hold dropped from the global index: exit %d\n%s", exitCode(err), out)
	}
}

// TestLedgerVerifyBinary runs the built binary for its exit statuses.
func TestLedgerVerifyBinary(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	s := newVerifyStack(t, "redis://"+srv.Addr(), c)
	run := func(env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}
	env := []string{"CREDITRUN_REDIS_URL=" + s.url}
	if code, out := run(env, "ledger", "verify"); code != 0 || !strings.Contains(out, "ok: every check holds") {
		t.Errorf("clean: exit %d\n%s", code, out)
	}
	if code, out := run(env, "ledger", "verify", "--grace", "soon"); code != 2 || !strings.Contains(out, "usage:") {
		t.Errorf("bad --grace: exit %d\n%s", code, out)
	}
	if code, out := run(nil, "ledger", "verify"); code != 2 {
		t.Errorf("no Redis URL: exit %d\n%s", code, out)
	}
	s.endQueued(t)
	code, out := run(env, "ledger", "verify", "--json")
	if code != 1 {
		t.Fatalf("broken: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, `"check": "job-reservation"`) || !strings.Contains(out, "creditrun: ledger verify: 1 check(s) failed") {
		t.Errorf("broken --json:\n%s", out)
	}
}

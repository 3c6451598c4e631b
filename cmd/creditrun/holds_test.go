package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
)

// financeAPI is the HTTP API in process on a real redis-server, built as
// the api package's tests build theirs, with holds to work on.
type financeAPI struct {
	url     string
	finance string // a finance key
	svc     *jobs.Service
	ledger  *ledger.Redis
	local   *storage.Local
	api     *api.Server
	redis   *redis.Client
}

// discardQueue stands in for asynq: the tests run each job's worker side
// themselves.
type discardQueue struct{}

func (discardQueue) Enqueue(context.Context, jobs.Job) error { return nil }
func (discardQueue) Cancel(context.Context, jobs.Job) error  { return nil }

func newFinanceAPI(t *testing.T) *financeAPI {
	t.Helper()
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	l := ledger.New(c, ledger.Options{})
	js := jobstore.New(c, jobstore.Options{})
	var handler http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	local := storage.NewLocal(t.TempDir(), hs.URL, []byte("0123456789abcdef0123456789abcdef"), nil)
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: discardQueue{}, Accounts: js, Catalog: plan.Builtin(),
		Objects: local, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }})
	a, err := api.New(api.Config{Jobs: svc, Ledger: l, Redis: c, Storage: local, Files: local.Handler(),
		RateLimit: api.RateLimitOff, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	handler = a
	fin, err := a.CreateKey(context.Background(), api.RoleFinance, "")
	if err != nil {
		t.Fatal(err)
	}
	return &financeAPI{url: hs.URL, finance: fin, svc: svc, ledger: l, local: local, api: a, redis: c}
}

// held runs a download of 2+over people with 2 credits left on a fresh
// account of people-1k-99 (overage at 10 cents) and returns the account and
// the hold.
func (f *financeAPI) held(t *testing.T, over int64) (string, credit.Hold) {
	t.Helper()
	ctx := context.Background()
	acct, err := f.svc.CreateAccount(ctx, "", "Acme", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.ledger.Pool(ctx, acct.ID, "people")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ledger.Adjust(ctx, acct.ID, "people", 2-p.Available(), "test", ""); err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Submit(ctx, acct.ID, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 2 + over, OnInsufficient: credit.Overage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, acct.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	key := storage.ResultKey(acct.ID, j.ID, 1, jobs.CSV)
	n, err := f.local.Put(ctx, key, strings.NewReader("id\nper_00000001\n"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}})
	if err != nil {
		t.Fatal(err)
	}
	j, err = f.svc.Complete(ctx, acct.ID, j.ID, jobs.Outcome{Found: 2 + over, Delivered: 2 + over,
		Results: []jobs.ResultFile{{Key: key, Format: jobs.CSV, Records: 1, Bytes: n}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.ledger.Hold(ctx, j.HoldID)
	if err != nil {
		t.Fatal(err)
	}
	return acct.ID, h
}

// cli runs `creditrun holds args...` with env as the environment, and
// returns what it printed and its error.
func (f *financeAPI) cli(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := holdsCommand(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), err
}

// staffEnv is the environment of a finance user: the URL and key.
func (f *financeAPI) staffEnv() map[string]string {
	return map[string]string{"CREDITRUN_URL": f.url, "CREDITRUN_KEY": f.finance}
}

func (f *financeAPI) tag(t *testing.T, h credit.Hold) string {
	t.Helper()
	m, err := f.local.Tags(context.Background(), storage.ResultKey(h.Account, h.JobID, 1, jobs.CSV))
	if err != nil {
		t.Fatal(err)
	}
	return m[storage.HoldTag]
}

// TestHoldsCLI lists, pays and waives holds with the CLI against the API,
// in table and JSON form, across pages.
func TestHoldsCLI(t *testing.T) {
	f := newFinanceAPI(t)
	a1, h1 := f.held(t, 1)
	a2, h2 := f.held(t, 2)
	_, h3 := f.held(t, 3)
	env := f.staffEnv()
	old := holdsPageSize
	holdsPageSize = 2 // three holds: two pages
	t.Cleanup(func() { holdsPageSize = old })

	// The table: a header, one line per hold, newest first, and the total.
	out, _, err := f.cli(t, env, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("table:\n%s", out)
	}
	for i, h := range []credit.Hold{h3, h2, h1} {
		fields := strings.Fields(lines[i+1])
		if len(fields) < 10 || fields[0] != h.ID || fields[1] != h.Account || fields[2] != h.JobID || fields[4] != fmt.Sprint(h.OverageCredits) ||
			fields[5] != money(h.AmountDueCents) || fields[6] != "unpaid" {
			t.Errorf("line %d %q, want hold %s", i+1, lines[i+1], h.ID)
		}
	}
	if !strings.Contains(lines[4], "3 hold(s)") || !strings.Contains(lines[4], "0.60") || !strings.Contains(lines[4], "total_due_cents 60") {
		t.Errorf("total line %q", lines[4])
	}

	// Pay with the flag after the id; the table shows it paid.
	out, _, err = f.cli(t, env, "pay", h1.ID, "--ref", "inv_123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, h1.ID) || !strings.Contains(out, " paid ") || !strings.Contains(out, "inv_123") {
		t.Errorf("pay printed:\n%s", out)
	}
	if got, _ := f.ledger.Hold(context.Background(), h1.ID); got.Status != credit.HoldPaid || got.PaymentRef != "inv_123" {
		t.Errorf("hold after the CLI paid it: %+v", got)
	}
	if tag := f.tag(t, h1); tag != storage.HoldPaid {
		t.Errorf("tag after pay %q", tag)
	}

	// Waive with the flag before the id, in JSON.
	out, _, err = f.cli(t, env, "waive", "--json", "--reason", "goodwill, once", h2.ID)
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("waive --json printed %q: %v", out, err)
	}
	if w["id"] != h2.ID || w["status"] != "waived" || w["waive_reason"] != "goodwill, once" || w["paid_at"] == nil || w["payment_ref"] != nil {
		t.Errorf("waive --json: %v", w)
	}
	if tag := f.tag(t, h2); tag != storage.HoldWaived {
		t.Errorf("tag after waive %q", tag)
	}

	// JSON listings with filters, across pages.
	list := func(args ...string) holdList {
		t.Helper()
		out, _, err := f.cli(t, env, append([]string{"list", "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var l holdList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("list --json printed %q: %v", out, err)
		}
		return l
	}
	ids := func(l holdList) string {
		var s []string
		for _, h := range l.Holds {
			s = append(s, h.ID+":"+h.Status)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		args  []string
		want  string
		total int64
	}{
		// Due means unpaid: total_due_cents counts the unpaid holds only.
		{nil, h3.ID + ":unpaid " + h2.ID + ":waived " + h1.ID + ":paid", 30},
		{[]string{"--status", "unpaid"}, h3.ID + ":unpaid", 30},
		{[]string{"--status", "paid"}, h1.ID + ":paid", 0},
		{[]string{"--account", a2}, h2.ID + ":waived", 0},
		{[]string{"--account", a1, "--status", "unpaid"}, "", 0},
	} {
		l := list(c.args...)
		if got := ids(l); got != c.want || l.TotalDueCents != c.total {
			t.Errorf("list %v: %q total %d, want %q and %d", c.args, got, l.TotalDueCents, c.want, c.total)
		}
	}
	// The table's last line says due only of unpaid holds.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--status", "paid"}, "1 hold(s), none unpaid: nothing is due"},
		{nil, "3 hold(s), 1 unpaid; due on the unpaid holds: 0.30 (total_due_cents 30)"},
	} {
		out, _, err := f.cli(t, env, append([]string{"list"}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[len(lines)-1]; got != c.want {
			t.Errorf("list %v: last line %q, want %q", c.args, got, c.want)
		}
	}
	if l := list("--status", "paid"); l.Holds[0].PaymentRef == nil || *l.Holds[0].PaymentRef != "inv_123" || l.Holds[0].PaidAt == nil {
		t.Errorf("the paid hold in JSON: %+v", l.Holds[0])
	}
	if l := list("--account", "nobody"); l.Holds == nil || len(l.Holds) != 0 {
		t.Errorf("an empty listing is %+v, want holds: []", l)
	}
	for _, a := range []string{a1, a2} {
		ledgertest.CheckAccount(t, f.ledger, a)
	}
}

// TestHoldsCLIErrors: every failure is an error (a non-zero exit) that says
// what went wrong, with the API's own message when the API refused.
func TestHoldsCLIErrors(t *testing.T) {
	f := newFinanceAPI(t)
	acct, h := f.held(t, 1)
	_, w := f.held(t, 2)
	env := f.staffEnv()
	if _, _, err := f.cli(t, env, "waive", w.ID, "--reason", "goodwill"); err != nil {
		t.Fatal(err)
	}
	user, err := f.api.CreateKey(context.Background(), api.RoleUser, acct)
	if err != nil {
		t.Fatal(err)
	}
	closed := freeAddr(t) // nothing listens there

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want []string // in the error
	}{
		{"pay a waived hold", env, []string{"pay", w.ID, "--ref", "inv_1"}, []string{"The hold is closed otherwise", "409 conflict"}},
		{"unknown hold", env, []string{"pay", "hold_job_nope", "--ref", "inv_1"}, []string{"Not found.", "404 not_found"}},
		{"user key", map[string]string{"CREDITRUN_URL": f.url, "CREDITRUN_KEY": user}, []string{"list"}, []string{"needs a finance or admin key; this key is user", "403 forbidden"}},
		{"unknown key", map[string]string{"CREDITRUN_URL": f.url, "CREDITRUN_KEY": "cr_live_nope_nope_nope"}, []string{"list"}, []string{"401 unauthorized"}},
		{"bad status", env, []string{"list", "--status", "late"}, []string{"status must be", "400 invalid_request"}},
		{"no key", map[string]string{"CREDITRUN_URL": f.url}, []string{"list"}, []string{"--key or CREDITRUN_KEY"}},
		{"bad url", map[string]string{"CREDITRUN_URL": "ftp://x", "CREDITRUN_KEY": "k"}, []string{"list"}, []string{"not an http(s) URL"}},
		{"nothing listens", map[string]string{"CREDITRUN_URL": "http://" + closed, "CREDITRUN_KEY": f.finance}, []string{"list"}, []string{"the API at http://" + closed}},
		{"no ref", env, []string{"pay", h.ID}, []string{"--ref is required"}},
		{"no reason", env, []string{"waive", h.ID}, []string{"--reason is required"}},
		{"no id", env, []string{"pay", "--ref", "inv_1"}, []string{"exactly one hold ID"}},
		{"two ids", env, []string{"pay", h.ID, h.ID, "--ref", "inv_1"}, []string{"exactly one hold ID"}},
		{"list with an id", env, []string{"list", h.ID}, []string{"unexpected argument"}},
		{"unknown flag", env, []string{"list", "--ref", "x"}, []string{"flag provided but not defined"}},
		{"unknown subcommand", env, []string{"refund", h.ID}, []string{"unknown subcommand"}},
		{"no subcommand", env, nil, []string{"missing subcommand"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := f.cli(t, c.env, c.args...)
			if err == nil {
				t.Fatalf("no error; printed %q", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if got, _ := f.ledger.Hold(context.Background(), h.ID); got.Status != credit.HoldUnpaid {
		t.Errorf("the hold after failed commands: %+v", got)
	}

	// Flags win over the environment: a wrong key in the environment, the
	// right one on the command line.
	wrong := map[string]string{"CREDITRUN_URL": "http://" + closed, "CREDITRUN_KEY": user}
	if _, _, err := f.cli(t, wrong, "list", "--url", f.url, "--key", f.finance); err != nil {
		t.Errorf("flags over the environment: %v", err)
	}
	// run, as main calls it, fails the same way.
	if err := run(context.Background(), []string{"holds", "refund"}); err == nil {
		t.Error("run holds refund: no error")
	}
}

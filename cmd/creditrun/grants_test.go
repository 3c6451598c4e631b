package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/client"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// grantsCLI runs `creditrun grants args...` against f with key, and
// returns what it printed and its error.
func (f *financeAPI) grantsCLI(t *testing.T, key string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"CREDITRUN_URL": f.url, "CREDITRUN_KEY": key}
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	err := c.grants(context.Background(), args)
	return out.String(), errOut.String(), err
}

// TestGrantsCLI adds, lists and voids grants with the CLI against the API,
// in table and JSON form.
func TestGrantsCLI(t *testing.T) {
	f := newFinanceAPI(t)
	ctx := context.Background()
	admin, err := f.api.CreateKey(ctx, api.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := f.svc.CreateAccount(ctx, "", "Acme", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	a := acct.ID
	user, err := f.api.CreateKey(ctx, api.RoleUser, a)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(out string) client.Grant {
		t.Helper()
		var g client.Grant
		if err := json.Unmarshal([]byte(out), &g); err != nil || g.ID == "" {
			t.Fatalf("not a grant (%v): %s", err, out)
		}
		return g
	}

	// --expires-in counts from now; --json prints the grant.
	before := time.Now()
	out, _, err := f.grantsCLI(t, admin, "add", "--account", a, "--pool", "people", "--amount", "50", "--expires-in", "720h",
		"--priority", "1", "--reason", "pack-50", "--json")
	if err != nil {
		t.Fatal(err)
	}
	pack := grant(out)
	if pack.Amount != 50 || pack.Remaining != 50 || pack.Priority != 1 || pack.Reason != "pack-50" || pack.Status != client.GrantActive ||
		pack.ExpiresAt == nil || pack.ExpiresAt.Before(before.Add(720*time.Hour).Add(-time.Second)) || pack.ExpiresAt.After(time.Now().Add(720*time.Hour)) {
		t.Fatalf("grant %+v", pack)
	}

	// The same --idempotency-key adds once.
	args := []string{"add", "--account", a, "--pool", "people", "--amount", "5", "--idempotency-key", "promo-1", "--reason", "promo", "--json"}
	out, _, err = f.grantsCLI(t, admin, args...)
	if err != nil {
		t.Fatal(err)
	}
	promo := grant(out)
	if out, _, err = f.grantsCLI(t, admin, args...); err != nil || grant(out).ID != promo.ID {
		t.Fatalf("the same key again: %v %s, want grant %s", err, out, promo.ID)
	}
	if promo.ExpiresAt != nil {
		t.Errorf("a grant without --expires expires at %v", promo.ExpiresAt)
	}

	// The table form, with --expires.
	out, _, err = f.grantsCLI(t, admin, "add", "--account", a, "--pool", "people", "--amount", "7", "--expires", "2099-01-01T00:00:00Z", "--priority", "-1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "REMAINING") {
		t.Fatalf("add printed:\n%s", out)
	}
	early := strings.Fields(lines[1])[0]
	if want := "grant " + early + " adds 7 credits to pool people of account " + a + ", expiring 2099-01-01 00:00:00Z."; lines[2] != want {
		t.Errorf("add's last line %q, want %q", lines[2], want)
	}

	// list: the admin names the account; the user's key lists its own.
	// Spending order, lower priority first: early (-1), promo (0), pack (1).
	out, _, err = f.grantsCLI(t, admin, "list", "--account", a)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("list printed:\n%s", out)
	}
	var order []string
	for _, l := range lines[1:4] {
		order = append(order, strings.Fields(l)[0])
	}
	if want := []string{early, promo.ID, pack.ID}; strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("list order %v, want %v", order, want)
	}
	if want := "3 grant(s), 3 active with 62 credits remaining"; lines[4] != want {
		t.Errorf("list's last line %q, want %q", lines[4], want)
	}
	out, _, err = f.grantsCLI(t, user, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Grants []client.Grant }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Grants) != 3 || list.Grants[0].ID != early {
		t.Fatalf("list --json by the user's key (%v): %s", err, out)
	}

	// void, flags after the ID.
	out, _, err = f.grantsCLI(t, admin, "void", pack.ID, "--account", a, "--reason", "refunded")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "grant "+pack.ID+" of account "+a+" is voided: what it had left is forfeited.") {
		t.Errorf("void printed:\n%s", out)
	}
	out, _, err = f.grantsCLI(t, admin, "list", "--account", a, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Grants) != 3 ||
		list.Grants[2].ID != pack.ID || list.Grants[2].Status != client.GrantVoided || list.Grants[2].Remaining != 0 {
		t.Fatalf("list after the void (%v): %s", err, out)
	}
	entries, err := f.ledger.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var voided, added int
	for _, e := range entries {
		switch {
		case e.Type == credit.EntryGrantVoided && e.GrantID == pack.ID && e.Amount == 50 && e.Reason == "refunded":
			voided++
		case e.Type == credit.EntryGrantAdded:
			added++
		}
	}
	if voided != 1 || added != 3 {
		t.Errorf("journal: %d grant_voided of the pack with its reason, %d grant_added; want 1 and 3", voided, added)
	}
	ledgertest.CheckAccount(t, f.ledger, a)
}

// TestGrantsCLIErrors: bad flags are usage errors (exit 2) that say what
// is wanted, and the API's refusals come with its message.
func TestGrantsCLIErrors(t *testing.T) {
	f := newFinanceAPI(t)
	ctx := context.Background()
	admin, err := f.api.CreateKey(ctx, api.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := f.svc.CreateAccount(ctx, "", "Acme", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	a := acct.ID
	user, err := f.api.CreateKey(ctx, api.RoleUser, a)
	if err != nil {
		t.Fatal(err)
	}
	add := func(more ...string) []string {
		return append([]string{"add", "--account", a, "--pool", "people"}, more...)
	}
	for _, c := range []struct {
		name  string
		key   string
		args  []string
		code  int
		wants []string
	}{
		{"no account", admin, []string{"add", "--pool", "people", "--amount", "5"}, 2, []string{"--account is required"}},
		{"no pool", admin, []string{"add", "--account", a, "--amount", "5"}, 2, []string{"--pool is required"}},
		{"no amount", admin, add(), 2, []string{"--amount is required", "at least 1"}},
		{"negative amount", admin, add("--amount", "-5"), 2, []string{"at least 1"}},
		{"both expiries", admin, add("--amount", "5", "--expires", "2099-01-01T00:00:00Z", "--expires-in", "1h"), 2, []string{"give one"}},
		{"bad expiry", admin, add("--amount", "5", "--expires", "tomorrow"), 2, []string{"RFC 3339"}},
		{"negative expires-in", admin, add("--amount", "5", "--expires-in", "-1h"), 2, []string{"after now"}},
		{"past expiry", admin, add("--amount", "5", "--expires", "2001-01-01T00:00:00Z"), 1, []string{"expires_at must be in the future", "400 invalid_request"}},
		{"unknown pool", admin, []string{"add", "--account", a, "--pool", "nope", "--amount", "5"}, 1, []string{"its pools are people"}},
		{"unknown account", admin, []string{"add", "--account", "nobody", "--pool", "people", "--amount", "5"}, 1, []string{"404 not_found"}},
		{"user key adds", user, add("--amount", "5"), 1, []string{"needs an admin key; this key is user", "403 forbidden"}},
		{"user key lists another account", user, []string{"list", "--account", "nobody"}, 1, []string{"404 not_found"}},
		{"admin key lists without --account", admin, []string{"list"}, 1, []string{"name the account with --account", "403 forbidden"}},
		{"void without id", admin, []string{"void", "--account", a}, 2, []string{"exactly one grant ID"}},
		{"void without account", admin, []string{"void", "grant_x"}, 2, []string{"--account is required"}},
		{"void unknown grant", admin, []string{"void", "--account", a, "grant_nosuch"}, 1, []string{"Not found.", "404 not_found"}},
		{"list with an id", admin, []string{"list", "grant_x"}, 2, []string{"unexpected argument"}},
		{"unknown subcommand", admin, []string{"refund"}, 2, []string{"unknown subcommand", "add, list or void"}},
		{"no subcommand", admin, nil, 2, []string{"missing subcommand"}},
		{"no key", "", []string{"list"}, 2, []string{"--key or CREDITRUN_KEY"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := f.grantsCLI(t, c.key, c.args...)
			if err == nil {
				t.Fatalf("no error; printed %q", out)
			}
			if got := exitCode(err); got != c.code {
				t.Errorf("exit %d, want %d: %v", got, c.code, err)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	gs, err := f.ledger.Grants(ctx, a)
	if err != nil || len(gs) != 0 {
		t.Errorf("grants after failed commands: %+v, %v", gs, err)
	}
	// Help is no error.
	if _, errOut, err := f.grantsCLI(t, admin, "add", "-h"); err != nil || !strings.Contains(errOut, "creditrun grants add") {
		t.Errorf("add -h: %v\n%s", err, errOut)
	}
	ledgertest.CheckAccount(t, f.ledger, a)
}

//go:build linux

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCustomerCLIQuote runs `submit --quote` and `submit --dry-run` of the
// built binary against a `creditrun all` stack: a quote the pool covers is
// shown and the job submitted; a dry run shows it and submits nothing; a
// quote that is reject submits nothing and exits 3. And `results` of a job
// whose overage hold is unpaid exits 5.
func TestCustomerCLIQuote(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	binary(t)

	t.Run("quote, then submit", func(t *testing.T) {
		t.Parallel()
		_, key := s.newAccount(t, "people-1k-99")
		code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "5", "--quote", "--wait", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"quote: search of people\n", "credits required:  5\n", "expected cost:     5\n", "outcome:           accept\n"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("no %q in the quote:\n%s", want, errOut)
			}
		}
		if j := cliJob(t, out); j.Status != "succeeded" || j.TotalCost != 5 {
			t.Errorf("job %+v", j)
		}
	})

	t.Run("dry run submits nothing", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99")
		s.setAvailable(t, acct, key, "people", 3)
		code, out, errOut := customerRun(t, s, key, "submit", "download", "--data-type", "people", "--query", "*", "--num-records", "10",
			"--on-insufficient", "partial", "--dry-run", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var q struct {
			Kind            string `json:"kind"`
			Outcome         string `json:"outcome"`
			PartialReason   string `json:"partial_reason"`
			CreditsRequired int64  `json:"credits_required"`
		}
		if err := json.Unmarshal([]byte(out), &q); err != nil || q.Kind != "download" || q.Outcome != "partial" ||
			q.PartialReason != "Only 3 credits remaining, but 10 requested" || q.CreditsRequired != 10 {
			t.Errorf("dry run (%v): %s", err, out)
		}
		if n := len(s.jobsOf(t, key, "")); n != 0 {
			t.Errorf("a dry run submitted %d job(s)", n)
		}
	})

	t.Run("quote reject submits nothing, exit 3", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99")
		s.setAvailable(t, acct, key, "people", 2)
		code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "5",
			"--on-insufficient", "reject", "--quote")
		if code != 3 || !strings.Contains(errOut, "outcome:           reject") || !strings.Contains(errOut, "nothing was submitted") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
		if n := len(s.jobsOf(t, key, "")); n != 0 {
			t.Errorf("a rejected quote submitted %d job(s)", n)
		}
	})

	t.Run("results of a held job, exit 5", func(t *testing.T) {
		t.Parallel()
		acct, key := s.newAccount(t, "people-1k-99")
		s.setAvailable(t, acct, key, "people", 2)
		code, out, errOut := customerRun(t, s, key, "submit", "search", "--data-type", "people", "--query", "*", "--num-records", "5",
			"--on-insufficient", "overage", "--quote", "--wait", "--json")
		if code != 0 || !strings.Contains(errOut, "overage:           3 credits, 0.30 due") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		j := cliJob(t, out)
		if j.Hold == nil || j.Hold.Status != "unpaid" || j.Hold.OverageCredits != 3 {
			t.Fatalf("job %+v", j)
		}
		code, out, errOut = customerRun(t, s, key, "results", j.ID, "--out", t.TempDir())
		if code != 5 || !strings.Contains(errOut, "overage unpaid: hold "+j.Hold.ID) {
			t.Errorf("results of a held job: exit %d\n%s\n%s", code, out, errOut)
		}
	})
}

package worker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/worker"
)

// TestSearchOverBudgetFails runs a query that matches nothing but reads
// every record many times, on the real dataset with a small budget of work
// per search, through a real worker: the job fails at once (no retry) with a
// sentence that says why, and its reservation is voided, so the pool is back
// where it was.
func TestSearchOverBudgetFails(t *testing.T) {
	dir := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: people, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	const budget = 1_000_000
	d, err := dataset.OpenWith(t.Context(), dir, dataset.Options{MaxSearchSteps: budget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := newFixture(t, d, worker.HandlerConfig{})
	before, err := f.ledger.Pools(t.Context(), f.account)
	if err != nil {
		t.Fatal(err)
	}

	busy := "NOT (" + strings.Repeat(`email:"gmail com" OR `, 100) + "name:*)"
	out := make(chan error, 4)
	startServer(t, f, recordingHandler{f.handler, out})
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: busy, NumRecords: 50})
	if err := wait(t, out); !errors.Is(err, asynq.SkipRetry) || !errors.As(err, new(*source.BudgetError)) {
		t.Fatalf("the run returned %v, want SkipRetry and a *source.BudgetError", err)
	}
	done := f.job(t, j.ID)
	want := "The query needs more than 1000000 steps of search (index entries and records examined), " +
		"the most one search may take; narrow it. Nothing was charged."
	if done.Status != jobs.Failed || done.Error != want || done.TotalCost != 0 || done.CreditsReleased != 50 || done.Attempts != 1 {
		t.Fatalf("job: %s %q, total_cost %d, released %d, %d attempts; want failed %q, 0, 50, 1",
			done.Status, done.Error, done.TotalCost, done.CreditsReleased, done.Attempts, want)
	}
	if posts := f.journal(t, j.ID, credit.EntryPost); len(posts) != 0 {
		t.Fatalf("a job over its budget posted %+v", posts)
	}
	f.checkLedger(t, done)
	after, err := f.ledger.Pools(t.Context(), f.account)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("the pool is not back where it was (-before +after):\n%s", diff)
	}
}

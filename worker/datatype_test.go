package worker_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/worker"
)

// A job for a data type the worker's source lacks fails at once, saying
// which data types the source has, and charges nothing.
func TestFailUnknownDataTypeListsOffered(t *testing.T) {
	dir := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: 5, Businesses: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"properties.jsonl", "products.jsonl"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := dataset.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := newFixture(t, d, worker.HandlerConfig{}, "properties-10k-349")
	j := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.Properties, NumRecords: 5})
	if err := f.process(t, t.Context(), j); !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, source.ErrUnknownDataType) {
		t.Fatalf("ProcessTask: %v, want SkipRetry and ErrUnknownDataType", err)
	}
	done := f.job(t, j.ID)
	want := `The data type "properties" is not one this source has: businesses, people. Nothing was charged.`
	if done.Status != jobs.Failed || done.Error != want || done.CreditsReleased != 5 {
		t.Fatalf("job: %s %q, released %d; want failed with %q, 5 released", done.Status, done.Error, done.CreditsReleased, want)
	}
	f.checkLedger(t, done)
}

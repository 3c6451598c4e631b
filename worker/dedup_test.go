package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// TestDedupDownloadStaged runs dedup downloads (the enhance-export-10k plan)
// past one batch of ids, which the worker stages in the ledger as it writes
// the records rather than holding them: a record charged by an earlier
// download is free, the stages are gone once settled, a small download still
// names its ids inline, and the ledger's invariants hold.
func TestDedupDownloadStaged(t *testing.T) {
	src := openDataset(t, 2600)
	f := newFixture(t, src, worker.HandlerConfig{}, "enhance-export-10k")
	rdb := redis.NewClient(&redis.Options{Addr: f.redis.Addr()})
	t.Cleanup(func() { rdb.Close() })
	stages := &stageCounter{Service: f.svc}
	h := worker.NewHandler(worker.HandlerConfig{Service: stages, Source: src, Storage: f.files, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, step := range []struct {
		records, cost int64
		batches       []int // the ids staged by each call
	}{
		{1500, 1500, []int{1000, 500}},       // past one batch: staged
		{2500, 1000, []int{1000, 1000, 500}}, // the first 1,500 were charged by the first
		{10, 0, nil},                         // under one batch: inline, all charged before
		{1000, 0, []int{1000}},               // one whole batch: staged
	} {
		stages.batches = nil
		j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: "*", NumRecords: step.records, Format: jobs.CSV})
		if err := h.ProcessTask(t.Context(), worker.NewRunTask(j.Account, j.ID)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(stages.batches, step.batches) {
			t.Fatalf("download of %d staged ids in batches %v, want %v", step.records, stages.batches, step.batches)
		}
		done := f.job(t, j.ID)
		if done.Status != jobs.Succeeded || done.TotalCost != step.cost || done.CreditsReleased != step.records-step.cost {
			t.Fatalf("download of %d: %s, total_cost %d, released %d; want total_cost %d", step.records, done.Status, done.TotalCost, done.CreditsReleased, step.cost)
		}
		var rows int64
		for _, rf := range done.Results {
			rows += rf.Records
		}
		if rows != step.records {
			t.Fatalf("download of %d delivered %d records", step.records, rows)
		}
		f.checkLedger(t, done)
	}
	if n, err := f.ledger.ChargedRecords(t.Context(), f.account, "export"); err != nil || n != 2500 {
		t.Fatalf("charged records %d, %v; want 2,500", n, err)
	}
	if keys, err := rdb.Keys(t.Context(), "*:stage:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("stages left after the settles: %v, %v", keys, err)
	}
}

// TestDedupStagedRetry fails a dedup download's first attempt after it
// staged a batch: its stage is dropped, and the second attempt stages afresh
// and charges every record once.
func TestDedupStagedRetry(t *testing.T) {
	src := openDataset(t, 1600)
	f := newFixture(t, src, worker.HandlerConfig{}, "enhance-export-10k")
	rdb := redis.NewClient(&redis.Options{Addr: f.redis.Addr()})
	t.Cleanup(func() { rdb.Close() })
	stages := &stageCounter{Service: f.svc, failAt: 2}
	h := worker.NewHandler(worker.HandlerConfig{Service: stages, Source: src, Storage: f.files, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: "*", NumRecords: 1500, Format: jobs.CSV})
	if err := h.ProcessTask(t.Context(), worker.NewRunTask(j.Account, j.ID)); err == nil {
		t.Fatal("the first attempt succeeded though staging its second batch failed")
	}
	if keys, err := rdb.Keys(t.Context(), "*:stage:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("the failed attempt's stage was not dropped: %v, %v", keys, err)
	}
	if err := h.ProcessTask(t.Context(), worker.NewRunTask(j.Account, j.ID)); err != nil {
		t.Fatal(err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Succeeded || done.Attempts != 2 || done.TotalCost != 1500 {
		t.Fatalf("retried download: %s, attempts %d, total_cost %d; want succeeded, 2, 1,500", done.Status, done.Attempts, done.TotalCost)
	}
	if !slices.Equal(stages.batches, []int{1000, 500, 1000, 500}) {
		t.Fatalf("batches %v, want 1,000 and 500 twice", stages.batches)
	}
	if keys, err := rdb.Keys(t.Context(), "*:stage:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("stages left after the settle: %v, %v", keys, err)
	}
	f.checkLedger(t, done)
}

// stageCounter is the service, with the sizes of the batches staged; its
// call number failAt, when set, fails.
type stageCounter struct {
	*jobs.Service
	batches []int
	failAt  int
}

func (s *stageCounter) StageRecords(ctx context.Context, account, id string, attempt int, ids []string) (int64, error) {
	s.batches = append(s.batches, len(ids))
	if len(s.batches) == s.failAt {
		return 0, errors.New("staging made to fail")
	}
	return s.Service.StageRecords(ctx, account, id, attempt, ids)
}

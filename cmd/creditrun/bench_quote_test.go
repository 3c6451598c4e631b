package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/source/dataset"
)

// TestBenchQuote runs the quote measurement briefly on a small dataset: it
// finds people for its query, and gives both rates and their ratio.
func TestBenchQuote(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	tmp := t.TempDir()
	stack, err := benchmark.NewStack(t.Context(), benchmark.StackConfig{Redis: client, Asynq: asynq.RedisClientOpt{Addr: srv.Addr()},
		Account: fmt.Sprintf("bench%d", time.Now().UnixNano()), ResultsDir: filepath.Join(tmp, "results")})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	dir := filepath.Join(tmp, "people")
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: 5000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var fig benchmark.Figures
	o := benchOptions{duration: 200 * time.Millisecond, downloadRecords: 5000}
	idx := &benchIndex{dataset: dir, dir: filepath.Join(tmp, "index")}
	if err := benchQuote(context.Background(), client, o, &fig, stack, idx, tmp, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fig.QuoteRecords != 5000 || fig.QuotePerS <= 0 || fig.QuoteMs <= 0 || fig.BalanceReadPerS <= 0 || fig.QuoteVsBalanceRead <= 0 {
		t.Fatalf("figures %+v", fig)
	}
}

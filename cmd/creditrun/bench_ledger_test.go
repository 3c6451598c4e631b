package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestBenchLedgerPair runs the ledger pair bench briefly: its figures are
// there, and it leaves no key behind on a Redis it was pointed at.
func TestBenchLedgerPair(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { client.Close() })
	var fig benchmark.Figures
	if err := benchLedgerPair(context.Background(), client, benchOptions{goroutines: 4, duration: 200 * time.Millisecond}, &fig, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fig.LedgerPairsPerS <= 0 || fig.TrivialPairsPerS <= 0 || fig.LedgerPairRatio <= 0 {
		t.Errorf("figures %v, %v, %v; want them positive", fig.LedgerPairsPerS, fig.TrivialPairsPerS, fig.LedgerPairRatio)
	}
	if keys := dbSize(t, client); keys != 0 {
		t.Errorf("%d keys left behind", keys)
	}
}

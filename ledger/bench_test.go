package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
)

// The pair benchmarks run with 32 goroutines against the package's
// redis-server. When both ran, TestMain prints their ratio as
// `ledger_pair_ratio: 0.NN`: the ledger's pairs per second over the trivial
// pairs per second, measured in the same run.
const benchGoroutines = 32

var (
	benchMu      sync.Mutex
	benchPerPair = map[string]time.Duration{}
)

func benchClient(b *testing.B) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: benchGoroutines * 2})
	b.Cleanup(func() { c.Close() })
	return c
}

func runPairs(b *testing.B, name string, fn func(context.Context) error) {
	ctx := context.Background()
	b.SetParallelism(benchmark.Parallelism(benchGoroutines))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := fn(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	benchMu.Lock()
	benchPerPair[name] = b.Elapsed() / time.Duration(b.N)
	benchMu.Unlock()
}

// BenchmarkReserveSettlePair is one reserve and one settle through the ledger.
func BenchmarkReserveSettlePair(b *testing.B) {
	pair, err := benchmark.NewLedgerPair(context.Background(), benchClient(b), fmt.Sprintf("bench%d", time.Now().UnixNano()))
	if err != nil {
		b.Fatal(err)
	}
	runPairs(b, "ledger", pair.Run)
}

// BenchmarkTrivialPair is two EVALSHA of one HINCRBY: the floor.
func BenchmarkTrivialPair(b *testing.B) {
	pair := benchmark.NewTrivialPair(benchClient(b), fmt.Sprintf("bench%d:trivial", time.Now().UnixNano()))
	runPairs(b, "trivial", pair.Run)
}

// pairRatio returns the ledger's pair rate over the trivial pair's, when both
// benchmarks ran.
func pairRatio() (float64, bool) {
	benchMu.Lock()
	defer benchMu.Unlock()
	l, t := benchPerPair["ledger"], benchPerPair["trivial"]
	if l == 0 || t == 0 {
		return 0, false
	}
	return float64(t) / float64(l), true
}

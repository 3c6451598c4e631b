package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// runBench runs `creditrun bench`: each of creditrun's paths against the bare
// tool beneath it, measured in the same run against the same servers, and
// reported as rates and ratios.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object with every figure at the top level")
	duration := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
	goroutines := fs.Int("goroutines", 32, "concurrent clients")
	redisURL := fs.String("redis-url", os.Getenv("CREDITRUN_REDIS_URL"), "Redis to measure against (env CREDITRUN_REDIS_URL); empty starts a redis-server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client, stop, err := benchRedis(*redisURL)
	if err != nil {
		return err
	}
	defer stop()

	out := os.Stdout
	progress := io.Writer(os.Stderr)
	figures := map[string]any{"goroutines": *goroutines, "duration_s": duration.Seconds()}
	prefix := fmt.Sprintf("crbench%d", time.Now().UnixNano())

	pair, err := benchmark.NewLedgerPair(ctx, client, prefix)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	trivial := benchmark.NewTrivialPair(client, prefix+":trivial")
	// Alternate the two so that a busy moment of the machine falls on both.
	var ledgerRate, trivialRate float64
	for round := range 2 {
		fmt.Fprintf(progress, "bench: ledger pair, round %d\n", round+1)
		r, err := benchmark.Rate(ctx, *goroutines, *duration/2, pair.Run)
		if err != nil {
			return fmt.Errorf("bench ledger pair: %w", err)
		}
		ledgerRate += r / 2
		fmt.Fprintf(progress, "bench: trivial pair, round %d\n", round+1)
		if r, err = benchmark.Rate(ctx, *goroutines, *duration/2, trivial.Run); err != nil {
			return fmt.Errorf("bench trivial pair: %w", err)
		}
		trivialRate += r / 2
	}
	figures["ledger_pairs_per_s"] = round0(ledgerRate)
	figures["trivial_pairs_per_s"] = round0(trivialRate)
	figures["ledger_pair_ratio"] = round2(ledgerRate / trivialRate)

	if *asJSON {
		return json.NewEncoder(out).Encode(figures)
	}
	fmt.Fprintf(out, "ledger_pairs_per_s: %.0f\n", ledgerRate)
	fmt.Fprintf(out, "trivial_pairs_per_s: %.0f\n", trivialRate)
	fmt.Fprintf(out, "ledger_pair_ratio: %.2f\n", ledgerRate/trivialRate)
	return nil
}

// benchRedis connects to url, or starts a redis-server of its own.
func benchRedis(url string) (redis.UniversalClient, func(), error) {
	if url != "" {
		c, err := newRedisClient(url)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	}
	srv, err := redisserver.Start(redisserver.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 128})
	return c, func() { c.Close(); srv.Close() }, nil
}

func round0(f float64) float64 { return float64(int64(f + 0.5)) }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

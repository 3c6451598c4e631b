package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source/dataset"
)

// quoteQuery is the selective query of the quote measurement: the people of
// one city of the generated dataset.
const quoteQuery = "city:cedardale"

// benchQuote measures a quote of a selective download on the dataset of
// --download-records people (POST /v1/quotes's work: count the query's
// records, read the pool, apply the reserve's rule), against what a
// customer does without quotes: reading the balance to compare by hand
// (GET /v1/account's read of the pools). Each runs for half of --duration
// on one goroutine, in process, so the figures are of the work and not of
// HTTP.
func benchQuote(ctx context.Context, client redis.UniversalClient, o benchOptions, fig *benchmark.Figures, stack *benchmark.Stack,
	idx *benchIndex, tmp string, progress io.Writer) error {
	if err := idx.give(ctx, filepath.Join(tmp, "quote-data")); err != nil {
		return err
	}
	ds, err := dataset.OpenWith(ctx, idx.dataset, dataset.Options{IndexDir: idx.dir})
	if err != nil {
		return fmt.Errorf("bench: quote: %w", err)
	}
	defer ds.Close()
	store := jobstore.New(client, jobstore.Options{})
	svc := jobs.NewService(jobs.Config{Ledger: stack.Ledger, Store: store, Accounts: store, Catalog: plan.Builtin(), Source: ds})
	spec := jobs.Spec{Kind: jobs.Download, DataType: "people", Query: quoteQuery, NumRecords: 100}
	q, err := svc.Quote(ctx, stack.Account, spec)
	if err != nil {
		return fmt.Errorf("bench: quote: %w", err)
	}
	fmt.Fprintf(progress, "bench: quotes of %q on %d people (%d found)\n", quoteQuery, o.downloadRecords, *q.NumFound)
	rate := func(op func() error) (float64, error) {
		n, start := 0, time.Now()
		for time.Since(start) < o.duration/2 {
			if err := op(); err != nil {
				return 0, err
			}
			n++
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	quotes, err := rate(func() error { _, err := svc.Quote(ctx, stack.Account, spec); return err })
	if err != nil {
		return fmt.Errorf("bench: quote: %w", err)
	}
	reads, err := rate(func() error { _, err := stack.Ledger.Pools(ctx, stack.Account); return err })
	if err != nil {
		return fmt.Errorf("bench: balance read: %w", err)
	}
	fig.QuoteRecords = o.downloadRecords
	fig.QuotePerS, fig.QuoteMs = math.Round(quotes), math.Round(1e6/quotes)/1000
	fig.BalanceReadPerS = math.Round(reads)
	fig.QuoteVsBalanceRead = math.Round(100*quotes/reads) / 100
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
)

// benchRefreshCatalog is the catalog of the refresh bench: an account on
// both plans has two pools, each refreshed monthly.
const benchRefreshCatalog = `
plans:
  bench-people:
    pool: people
    data_types: [people]
    operations: [search, download, enrichment]
    credits: 1000
    refresh: "@monthly"
  bench-properties:
    pool: properties
    data_types: [properties]
    operations: [search, download, enrichment]
    credits: 10000
    refresh: "@monthly"
`

// benchRefresh measures issue 6's figure: one scheduler.Refresher.Sweep over
// o.refreshAccounts accounts whose two pools' periods have ended, against a
// bare sweep of the same shape (per pool and account one HSET of three
// fields and one ZADD, pipelined in pages of the sweep's size). Its accounts
// live under a key prefix of their own, deleted at the end.
func benchRefresh(ctx context.Context, client redis.UniversalClient, o benchOptions, fig *benchmark.Figures, progress io.Writer) (err error) {
	n := o.refreshAccounts
	if n < 1 {
		return nil
	}
	catalog, err := plan.Parse([]byte(benchRefreshCatalog))
	if err != nil {
		return fmt.Errorf("bench refresh: %w", err)
	}
	prefix := fmt.Sprintf("crbench%d", time.Now().UnixNano())
	defer func() {
		// Even when ctx has ended: a --redis-url run leaves nothing behind.
		err = errors.Join(err, deletePrefix(context.WithoutCancel(ctx), client, prefix))
	}()

	// The accounts were created two months ago, so that each pool's first
	// period has ended by now and the sweep catches each up once.
	now := time.Now().UTC()
	created := now.AddDate(0, -2, 0)
	store := jobstore.New(client, jobstore.Options{Prefix: prefix})
	fmt.Fprintf(progress, "bench: refresh sweep: creating %d accounts of %d pools\n", n, len(catalog.Plans()))
	if err := createRefreshAccounts(ctx, store, ledger.New(client, ledger.Options{Prefix: prefix, NowFunc: func() time.Time { return created }}),
		catalog, n, 2*o.goroutines, created); err != nil {
		return err
	}

	refresher, err := scheduler.NewRefresher(scheduler.RefresherConfig{
		Ledger: ledger.New(client, ledger.Options{Prefix: prefix}), Accounts: store, Catalog: catalog,
	})
	if err != nil {
		return fmt.Errorf("bench refresh: %w", err)
	}
	pools := len(catalog.Plans())
	fmt.Fprintf(progress, "bench: refresh sweep of %d accounts\n", n)
	start := time.Now()
	applied, err := refresher.Sweep(ctx, now)
	elapsed := time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("bench refresh: sweep: %w", err)
	}
	if applied != pools*n {
		return fmt.Errorf("bench refresh: the sweep applied %d refreshes, want %d", applied, pools*n)
	}

	fmt.Fprintf(progress, "bench: bare refresh sweep of %d accounts\n", n)
	start = time.Now()
	if err := bareRefreshSweep(ctx, client, prefix+":bare", catalog, n, now); err != nil {
		return err
	}
	bare := time.Since(start).Seconds()

	rate, bareRate := float64(n)/elapsed, float64(n)/bare
	fig.RefreshAccountsPerS = benchmark.Round(rate, 0)
	fig.RefreshPoolsPerS = benchmark.Round(float64(applied)/elapsed, 0)
	fig.RefreshBareAccountsPerS = benchmark.Round(bareRate, 0)
	fig.RefreshRatio = benchmark.Ratio(rate, bareRate)
	fig.RefreshAccounts = n
	fig.RefreshSeconds = benchmark.Round(elapsed, 3)
	return nil
}

// refreshAccountID is the id of the refresh bench's i-th account.
func refreshAccountID(i int) string { return "acct-" + strconv.Itoa(i) }

// createRefreshAccounts creates n accounts on every plan of catalog at
// created, with workers goroutines, through jobs.Service.CreateAccount: the
// account record, then each plan's pool and its first period.
func createRefreshAccounts(ctx context.Context, store *jobstore.Redis, l *ledger.Redis, catalog *plan.Catalog, n, workers int, created time.Time) error {
	svc := jobs.NewService(jobs.Config{Ledger: l, Accounts: store, Catalog: catalog, NowFunc: func() time.Time { return created }})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				id := refreshAccountID(i)
				if _, err := svc.CreateAccount(ctx, id, id, catalog.IDs()); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("bench refresh: create accounts: %w", err)
	}
	return nil
}

// bareRefreshSweep is the floor of the refresh sweep: for each pool name of
// catalog and each of n accounts, one HSET of a pool hash's three period
// fields and one ZADD of its period end to the pool's index, under prefix,
// pipelined in pages of scheduler.DefaultBatchSize accounts.
func bareRefreshSweep(ctx context.Context, client redis.UniversalClient, prefix string, catalog *plan.Catalog, n int, now time.Time) error {
	for _, p := range catalog.Plans() {
		start, end := p.CurrentPeriod(now.AddDate(0, -1, 0), now)
		index := prefix + ":periods:" + p.Pool
		for lo := 0; lo < n; lo += scheduler.DefaultBatchSize {
			pipe := client.Pipeline()
			for i := lo; i < min(lo+scheduler.DefaultBatchSize, n); i++ {
				id := refreshAccountID(i)
				pipe.HSet(ctx, prefix+":{a:"+id+"}:pool:"+p.Pool,
					"period_start", start.UnixMilli(), "period_end", end.UnixMilli(), "used", 0)
				pipe.ZAdd(ctx, index, redis.Z{Score: float64(end.UnixMilli()), Member: id})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("bench refresh: bare sweep: %w", err)
			}
		}
	}
	return nil
}

// deletePrefix deletes every key that starts with prefix+":", on every
// master of a cluster: SCAN, then an UNLINK of each key found, pipelined a
// page at a time (one key a command, so that Cluster takes it whatever the
// keys' slots). It returns once redis-server has freed them: UNLINK frees
// large keys in a thread of its own, whose CPU would otherwise count in the
// next measurement's.

func deletePrefix(ctx context.Context, client redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var page []string
		flush := func() error {
			if len(page) == 0 {
				return nil
			}
			pipe := c.Pipeline()
			for _, k := range page {
				pipe.Unlink(ctx, k)
			}
			page = page[:0]
			_, err := pipe.Exec(ctx)
			return err
		}
		for iter.Next(ctx) {
			if page = append(page, iter.Val()); len(page) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		return lazyFreed(ctx, c)
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	default:
		err = fmt.Errorf("a client of type %T", client)
	}
	if err != nil {
		return fmt.Errorf("bench: delete keys %s:*: %w", prefix, err)
	}
	return nil
}

// lazyFreed waits, for at most a minute, until c's server has freed the
// keys deleted: no keys left to free in the background (INFO memory,
// lazyfree_pending_objects) and its CPU at rest (INFO cpu: less than 10 ms
// in half a second). After a large delete, redis-server spends a second or
// more of system time over several seconds giving memory back.
func lazyFreed(ctx context.Context, c *redis.Client) error {
	deadline := time.Now().Add(time.Minute)
	field := func(info, name string) string {
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				return v
			}
		}
		return ""
	}
	cpu := func() (float64, error) {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return 0, err
		}
		sys, _ := strconv.ParseFloat(field(info, "used_cpu_sys"), 64)
		user, _ := strconv.ParseFloat(field(info, "used_cpu_user"), 64)
		return sys + user, nil
	}
	last, err := cpu()
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		now, err := cpu()
		if err != nil {
			return err
		}
		if p := field(info, "lazyfree_pending_objects"); (p == "" || p == "0") && now-last < 0.010 {
			return nil
		}
		last = now
	}
	return nil
}

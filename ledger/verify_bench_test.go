package ledger_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// verifyBenchAccounts is how many accounts BenchmarkVerify builds:
// CREDITRUN_VERIFY_ACCOUNTS, or 100,000.
func verifyBenchAccounts(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("CREDITRUN_VERIFY_ACCOUNTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("CREDITRUN_VERIFY_ACCOUNTS=%q is not a positive number", s)
		}
		n = v
	}
	return n
}

// BenchmarkVerify verifies a ledger of small accounts on the package's
// redis-server: each has a pool and five journal entries, a settled
// reservation and an open one. It reports accounts verified per second.
// Building the accounts comes first and is not timed; run it alone:
//
//	go test -run '^$' -bench BenchmarkVerify -benchtime 3x ./ledger/
func BenchmarkVerify(b *testing.B) {
	n := verifyBenchAccounts(b)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 64})
	b.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("vbench%d", time.Now().UnixNano())
	b.Cleanup(func() { unlinkPrefix(b, c, prefix) })
	l := ledger.New(c, ledger.Options{Prefix: prefix})
	now := time.Now()

	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchGoroutines {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				a := fmt.Sprintf("acct%06d", i)
				if err := benchAccount(ctx, l, a, now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}

	for b.Loop() {
		rep, err := l.Verify(ctx, ledger.VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || rep.Accounts != n || rep.Checked.JournalEntries != int64(5*n) {
			b.Fatalf("verify: ok %v, %d accounts, %d entries, failures %v", rep.OK, rep.Accounts, rep.Checked.JournalEntries, rep.Failures)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "accounts/s")
}

// benchAccount opens a pool of an account, settles one job and leaves
// another open.
func benchAccount(ctx context.Context, l *ledger.Redis, a string, now time.Time) error {
	if _, _, err := l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 1000, OverageEnabled: true, OverageLimit: 100,
		OveragePriceCents: 10}, now, now.AddDate(0, 1, 0)); err != nil {
		return err
	}
	if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 10, Policy: credit.Reject}); err != nil {
		return err
	}
	if _, err := l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "j1", Cost: 7}); err != nil {
		return err
	}
	_, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j2", Requested: 5, Policy: credit.Reject})
	return err
}

// unlinkPrefix deletes every key that starts with prefix+":".
func unlinkPrefix(b *testing.B, c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 10_000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				b.Error(err)
			}
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		b.Error(err)
	}
}

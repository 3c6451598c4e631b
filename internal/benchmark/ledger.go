package benchmark

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// trivialScript is the floor a ledger script is measured against: one
// EVALSHA of one HINCRBY.
var trivialScript = redis.NewScript(`return redis.call('HINCRBY', KEYS[1], 'n', 1)`)

// LedgerPair is one reserve and its settle on a pool that never runs short.
type LedgerPair struct {
	l       *ledger.Redis
	account string
	seq     atomic.Int64
}

// NewLedgerPair opens a pool to benchmark against, under its own key prefix.
func NewLedgerPair(ctx context.Context, client redis.UniversalClient, prefix string) (*LedgerPair, error) {
	l := ledger.New(client, ledger.Options{Prefix: prefix})
	now := time.Now()
	account := "bench"
	_, _, err := l.OpenPool(ctx, account, credit.PoolConfig{Name: "people", Grant: credit.MaxAmount}, now, now.AddDate(1, 0, 0))
	if err != nil {
		return nil, err
	}
	return &LedgerPair{l: l, account: account}, nil
}

// Run reserves one credit for a new job and settles it.
func (p *LedgerPair) Run(ctx context.Context) error {
	job := fmt.Sprintf("job%d", p.seq.Add(1))
	if _, err := p.l.Reserve(ctx, credit.ReserveRequest{Account: p.account, Pool: "people", JobID: job, Requested: 1, Policy: credit.Reject}); err != nil {
		return err
	}
	_, err := p.l.Settle(ctx, credit.SettleRequest{Account: p.account, Pool: "people", JobID: job, Cost: 1})
	return err
}

// TrivialPair is two EVALSHA of one HINCRBY: the round trips of a pair with
// no work in them.
type TrivialPair struct {
	client redis.UniversalClient
	key    string
}

// NewTrivialPair returns the trivial pair on key.
func NewTrivialPair(client redis.UniversalClient, key string) *TrivialPair {
	return &TrivialPair{client: client, key: key}
}

// Run runs the trivial script twice.
func (p *TrivialPair) Run(ctx context.Context) error {
	for range 2 {
		if err := trivialScript.Run(ctx, p.client, []string{p.key}).Err(); err != nil {
			return err
		}
	}
	return nil
}

// Parallelism returns the b.SetParallelism factor that runs goroutines
// goroutines under the current GOMAXPROCS.
func Parallelism(goroutines int) int {
	return max(1, (goroutines+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
}

// Rate runs fn from goroutines goroutines for about d and returns the calls
// per second.
func Rate(ctx context.Context, goroutines int, d time.Duration, fn func(context.Context) error) (float64, error) {
	n, elapsed, err := Run(ctx, goroutines, d, fn)
	if err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// Run runs fn from goroutines goroutines for about d and returns the calls
// made and the time they took, or the first error of a call.
func Run(ctx context.Context, goroutines int, d time.Duration, fn func(context.Context) error) (int64, time.Duration, error) {
	var (
		n        atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	for range goroutines {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := fn(ctx); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return n.Load(), time.Since(start), nil
}

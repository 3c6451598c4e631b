package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger/credit"
)

// TestHoldIndexStaleRead replays the race of indexing a hold after a settle
// with a pay in between: the settle's read said unpaid, the pay moved the
// hold to the paid index, and then the settle's write lands. The hold stays
// listed as paid, is never listed as unpaid, and ReindexHolds drops the
// stale entry.
func TestHoldIndexStaleRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	l := New(c, Options{Prefix: "race"})
	now := time.Now()
	if _, _, err := l.OpenPool(ctx, "acme", credit.PoolConfig{Name: "people", OverageEnabled: true, OverageLimit: 100, OveragePriceCents: 10}, now, now.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: "acme", Pool: "people", JobID: "j1", Requested: 5, Policy: credit.Overage}); err != nil {
		t.Fatal(err)
	}
	r, err := l.Settle(ctx, credit.SettleRequest{Account: "acme", Pool: "people", JobID: "j1", Cost: 5})
	if err != nil || r.HoldID == "" {
		t.Fatalf("settle: %+v, %v", r, err)
	}
	if _, err := l.PayHold(ctx, r.HoldID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	l.indexHoldStatus(ctx, pipe, redis.Z{Score: float64(unixMilli(r.EndedAt)), Member: r.HoldID}, credit.HoldUnpaid)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	in := func(status credit.HoldStatus) bool {
		t.Helper()
		err := c.ZScore(ctx, l.keys.holdsIn(string(status)), r.HoldID).Err()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		return err == nil
	}
	listed := func(status credit.HoldStatus) int {
		t.Helper()
		p, err := l.ListHolds(ctx, HoldFilter{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Holds)
	}
	if !in(credit.HoldPaid) || !in(credit.HoldUnpaid) {
		t.Fatalf("after the stale write: in paid %v, in unpaid %v; want both", in(credit.HoldPaid), in(credit.HoldUnpaid))
	}
	if listed(credit.HoldPaid) != 1 || listed(credit.HoldUnpaid) != 0 {
		t.Fatalf("listed paid %d, unpaid %d; want 1 and 0", listed(credit.HoldPaid), listed(credit.HoldUnpaid))
	}
	if err := l.ReindexHolds(ctx); err != nil {
		t.Fatal(err)
	}
	if !in(credit.HoldPaid) || in(credit.HoldUnpaid) {
		t.Fatalf("after the reindex: in paid %v, in unpaid %v; want only paid", in(credit.HoldPaid), in(credit.HoldUnpaid))
	}
}

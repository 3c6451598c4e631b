package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger/credit"
)

// TestEachHoldChunks walks holds in chunks of 3 where several holds share a
// millisecond across a chunk's edge: each is given once, in ListHolds's
// order, for every filter, and fn's error stops the walk.
func TestEachHoldChunks(t *testing.T) {
	defer func(n int) { holdChunk = n }(holdChunk)
	holdChunk = 3
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
	t.Cleanup(func() { c.Close() })
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := New(c, Options{Prefix: "each" + strconv.FormatInt(time.Now().UnixNano(), 36), NowFunc: func() time.Time { return now }})
	for _, a := range []string{"acme", "globex"} {
		if _, _, err := l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", OverageEnabled: true, OverageLimit: 1000, OveragePriceCents: 10}, now, now.AddDate(0, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// 4 holds in one millisecond, 3 in the next, 2 in a third: chunks of 3
	// end inside each group.
	var holds []string
	for i, group := range []int{4, 3, 2} {
		now = now.Add(time.Millisecond)
		for k := range group {
			a := []string{"acme", "globex"}[(i+k)%2]
			job := fmt.Sprintf("j%d_%d", i, k)
			if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: job, Requested: 2, Policy: credit.Overage}); err != nil {
				t.Fatal(err)
			}
			r, err := l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: job, Cost: 2})
			if err != nil || r.HoldID == "" {
				t.Fatalf("settle %s: %+v %v", job, r, err)
			}
			holds = append(holds, r.HoldID)
		}
	}
	if _, err := l.PayHold(ctx, holds[4], "inv_1"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []HoldFilter{{}, {Account: "acme"}, {Account: "globex"}, {Status: credit.HoldUnpaid}, {Status: credit.HoldPaid}, {Account: "acme", Status: credit.HoldUnpaid}} {
		page, err := l.ListHolds(ctx, HoldFilter{Account: f.Account, Status: f.Status, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, h := range page.Holds {
			want = append(want, h.ID)
		}
		if err := l.EachHold(ctx, f, func(h credit.Hold) error { got = append(got, h.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("EachHold %+v: %v, want ListHolds's %v", f, got, want)
		}
	}
	stop := errors.New("enough")
	n := 0
	if err := l.EachHold(ctx, HoldFilter{}, func(credit.Hold) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn's error: %v after %d holds, want it after 1", err, n)
	}
	if err := l.EachHold(ctx, HoldFilter{Status: "late"}, func(credit.Hold) error { n++; return nil }); !errors.Is(err, credit.ErrInvalidStatus) || n != 1 {
		t.Fatalf("an unknown status: %v, fn called %d times", err, n-1)
	}
}

package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/toxiproxy"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// TestLostReplyCheckpoint: a checkpoint run whose reply was lost, retried by
// go-redis and then by its caller with the same key, writes one checkpoint
// and trims once, and the journal still replays to the pools.
func TestLostReplyCheckpoint(t *testing.T) {
	t.Parallel()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	proxy := toxiproxy.T(t).ProxyT(t, "redis", server.Addr())
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: 3, Protocol: 2, DisableIdentity: true,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	cutter := toxiproxy.NewReplyCutter(proxy)
	c.AddHook(cutter)
	lr := &lostReplies{l: ledger.New(c, ledger.Options{Prefix: lostPrefix(t), NowFunc: clock.Now}), cutter: cutter}
	ctx := context.Background()
	const day = 24 * time.Hour
	a := "acme"
	start := clock.Now()
	if _, _, err := lr.l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 100}, start, start.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	topUp := func() {
		t.Helper()
		if _, err := lr.l.TopUp(ctx, a, "people", 1, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	topUp()
	clock.Advance(10 * day)
	first, err := lr.l.Checkpoint(ctx, a, "d1", clock.Now().Add(-5*day))
	if err != nil || !first.Written {
		t.Fatalf("first checkpoint: %+v, %v", first, err)
	}
	topUp()
	topUp()
	clock.Advance(10 * day)
	cut := clock.Now().Add(-5 * day)
	var lost ledger.CheckpointResult
	err = lr.cutScript(t, ":checkpoints", func() error {
		var err error
		lost, err = lr.l.Checkpoint(ctx, a, "d2", cut)
		return err
	})
	if err != nil {
		// The caller saw a failure: it runs again with the same key.
		if lost, err = lr.l.Checkpoint(ctx, a, "d2", cut); err != nil {
			t.Fatal(err)
		}
	}
	again, err := lr.l.Checkpoint(ctx, a, "d2", cut)
	if err != nil || again.Written || again.Trimmed != 0 || again.ID != lost.ID || lost.ID == first.ID {
		t.Fatalf("checkpoint d2: %+v, then %+v, %v", lost, again, err)
	}
	all, err := lr.l.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// The first checkpoint, two top-ups and the second checkpoint: the grant
	// and the first top-up went once.
	var types []credit.EntryType
	for _, e := range all {
		types = append(types, e.Type)
	}
	want := []credit.EntryType{credit.EntryCheckpoint, credit.EntryTopup, credit.EntryTopup, credit.EntryCheckpoint}
	if len(types) != len(want) || all[0].ID != first.ID || all[3].ID != lost.ID {
		t.Fatalf("journal %v (%s … %s), want %v (%s … %s)", types, all[0].ID, all[len(all)-1].ID, want, first.ID, lost.ID)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("journal %v, want %v", types, want)
		}
	}
	ledgertest.CheckAccount(t, lr.l, a)
}

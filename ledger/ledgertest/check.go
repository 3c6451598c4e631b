package ledgertest

import (
	"context"
	"testing"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// CheckAccount asserts, for one account, I1 on every pool and I4: the
// journal replays to the pools exactly, periods included. Tests of every
// package that changes credit state (jobs, workers, the API, end to end)
// call it after they have.
func CheckAccount(t testing.TB, l *ledger.Redis, account string) {
	t.Helper()
	ctx := context.Background()
	pools, err := l.Pools(ctx, account)
	if err != nil {
		t.Fatalf("pools of %s: %v", account, err)
	}
	entries, err := l.JournalAll(ctx, account)
	if err != nil {
		t.Fatalf("journal of %s: %v", account, err)
	}
	replayed, err := credit.Replay(entries)
	if err != nil {
		t.Fatalf("I4: %s: %v", account, err)
	}
	if len(replayed) != len(pools) {
		t.Errorf("I4: %s: journal names %d pools, Redis has %d", account, len(replayed), len(pools))
	}
	for _, p := range pools {
		if err := p.Check(); err != nil {
			t.Error(err)
		}
		if got := replayed[p.Name]; !got.Equal(p.Balance) {
			t.Errorf("I4: %s/%s: journal replays to %+v, pool is %+v", account, p.Name, got, p.Balance)
		}
	}
}

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
	checkGrants(t, l, account, entries)
	for _, p := range pools {
		if err := p.Check(); err != nil {
			t.Error(err)
		}
		if got := replayed[p.Name]; !got.Equal(p.Balance) {
			t.Errorf("I4: %s/%s: journal replays to %+v, pool is %+v", account, p.Name, got, p.Balance)
		}
	}
}

// checkGrants asserts I9 for one account: every grant's remaining and held
// are what its journal entries add up to, neither is negative, held is
// within remaining, and each pool's grants_available is what its active
// grants can give. A journal trimmed to a checkpoint is not replayed.
func checkGrants(t testing.TB, l *ledger.Redis, account string, entries []credit.Entry) {
	t.Helper()
	grants, err := l.Grants(context.Background(), account)
	if err != nil {
		t.Fatalf("grants of %s: %v", account, err)
	}
	pools, err := l.Pools(context.Background(), account)
	if err != nil {
		t.Fatalf("pools of %s: %v", account, err)
	}
	avail := map[string]int64{}
	for _, g := range grants {
		if g.Remaining < 0 || g.Held < 0 || g.Held > g.Remaining {
			t.Errorf("I9: %s: grant %s has remaining %d, held %d", account, g.ID, g.Remaining, g.Held)
		}
		avail[g.Pool] += g.Available()
	}
	for _, p := range pools {
		if p.GrantsAvailable != avail[p.Name] {
			t.Errorf("I9: %s/%s: grants_available %d, its active grants can give %d", account, p.Name, p.GrantsAvailable, avail[p.Name])
		}
	}
	replayed := map[string]credit.GrantDelta{}
	for _, e := range entries {
		if e.Type == credit.EntryCheckpoint {
			return
		}
		if e.GrantID != "" {
			d := replayed[e.GrantID]
			d.Remaining += e.GrantDelta.Remaining
			d.Held += e.GrantDelta.Held
			replayed[e.GrantID] = d
		}
	}
	for _, g := range grants {
		if d := replayed[g.ID]; d.Remaining != g.Remaining || d.Held != g.Held {
			t.Errorf("I9: %s: grant %s has remaining %d, held %d; its journal entries add up to %d, %d", account, g.ID, g.Remaining, g.Held, d.Remaining, d.Held)
		}
	}
}

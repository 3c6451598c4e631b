package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// TestQuoteMatchesReserve holds the Go rule of QuoteReserve to the reserve
// script: on many random pools (prepaid balance, overage headroom, records
// charged before) and random requests (amount, policy, enrichment items
// with repeated and already charged record ids), a quote made first says
// what the reserve that follows does: the outcome, what it takes from the
// prepaid balance and the overage, and the duplicates it skips; and the
// quote itself changes nothing.
func TestQuoteMatchesReserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	l := ledger.New(c, ledger.Options{Prefix: fmt.Sprintf("quote%d", time.Now().UnixNano())})
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Now().Add(-time.Hour)
	seen := map[ledger.Outcome]int{}
	for i := range 300 {
		account := fmt.Sprintf("acct%d", i)
		enabled := rng.IntN(3) > 0
		cfg := credit.PoolConfig{Name: "people", Grant: rng.Int64N(40), OverageEnabled: enabled,
			OverageLimit: rng.Int64N(30), OveragePriceCents: rng.Int64N(20)}
		if _, _, err := l.OpenPool(ctx, account, cfg, start, start.Add(30*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Grants, now and then, which the quote counts as Reserve spends them.
		for k := range rng.IntN(3) {
			if _, _, err := l.AddGrant(ctx, credit.GrantRequest{Account: account, Pool: "people", ID: fmt.Sprintf("grant_%d", k),
				Amount: 1 + rng.Int64N(20), Priority: rng.Int64N(2)}); err != nil {
				t.Fatal(err)
			}
		}
		alphabet := make([]string, 12)
		for k := range alphabet {
			alphabet[k] = fmt.Sprintf("r%d", k)
		}
		// Earlier jobs: some in flight, some settled with their records
		// charged, under every policy, so that reserved, used, overage
		// reserved and outstanding all vary.
		for j := range rng.IntN(4) {
			n := 1 + rng.Int64N(15)
			policy := credit.Overage
			if !enabled {
				policy = credit.Partial
			}
			r, err := l.Reserve(ctx, credit.ReserveRequest{Account: account, Pool: "people", JobID: fmt.Sprintf("pre%d", j),
				Requested: n, Policy: policy, Dedup: true})
			if err != nil {
				continue // refused: it changed nothing
			}
			if rng.IntN(2) == 0 {
				cost := rng.Int64N(r.Reserved() + 1)
				ids := make([]string, cost)
				for k := range ids {
					ids[k] = fmt.Sprintf("pre%d-%d", j, k)
					if k < len(alphabet) && rng.IntN(2) == 0 {
						ids[k] = alphabet[k]
					}
				}
				if _, err := l.Settle(ctx, credit.SettleRequest{Account: account, Pool: "people", JobID: r.JobID,
					Cost: cost, RecordIDs: ids}); err != nil {
					t.Fatalf("settle %s: %v", r.JobID, err)
				}
			}
		}

		policy := []credit.Policy{credit.Reject, credit.Partial, credit.Overage}[rng.IntN(3)]
		req := credit.ReserveRequest{Account: account, Pool: "people", JobID: "job", Requested: 1 + rng.Int64N(60),
			Policy: policy, Dedup: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 { // an enrichment, its items named by record id or unknown
			req.ItemIDs = make([]string, req.Requested)
			for k := range req.ItemIDs {
				if rng.IntN(4) > 0 {
					req.ItemIDs[k] = alphabet[rng.IntN(len(alphabet))]
				}
			}
		}
		need := req.Requested
		if req.ItemIDs != nil {
			charged, err := l.Charged(ctx, account, "people", req.ItemIDs)
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]bool{}
			for k, id := range req.ItemIDs {
				byID[id] = charged[k]
			}
			need = credit.CountChargeable(req.ItemIDs, req.Dedup, func(id string) bool { return byID[id] })
		}
		pool, err := l.Pool(ctx, account, "people")
		if err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, l, account)
		q, qerr := ledger.QuoteReserve(pool, need, policy)
		if after := snapshot(t, l, account); after != before {
			t.Fatalf("case %d: the quote changed the ledger", i)
		}
		r, rerr := l.Reserve(ctx, req)
		what := fmt.Sprintf("case %d: pool %+v, need %d, policy %s: quote %+v, %v; reserve %+v, %v", i, pool, need, policy, q, qerr, r, rerr)
		ie, refused := errors.AsType[*credit.InsufficientError](rerr)
		switch {
		case errors.Is(rerr, credit.ErrOverageDisabled):
			if !errors.Is(qerr, credit.ErrOverageDisabled) {
				t.Fatal(what)
			}
		case qerr != nil:
			t.Fatal(what)
		case refused:
			if q.Outcome != ledger.Reject || q.Need != ie.Required || q.Available != ie.Available || q.Reserved() != 0 {
				t.Fatal(what)
			}
		case rerr != nil:
			t.Fatal(what)
		default:
			want := ledger.Accept
			if r.Partial() {
				want = ledger.Partial
			}
			if q.Outcome != want || q.Prepaid != r.Prepaid || q.Overage != r.Overage || q.Need != r.Needed() ||
				q.AmountDueCents != r.Overage*pool.OveragePriceCents {
				t.Fatal(what)
			}
		}
		seen[q.Outcome]++
		ledgertest.CheckAccount(t, l, account)
	}
	// The random cases reach every outcome.
	for _, o := range []ledger.Outcome{ledger.Accept, ledger.Partial, ledger.Reject} {
		if seen[o] == 0 {
			t.Errorf("no case quoted %s: %v", o, seen)
		}
	}
}

// snapshot is the account's pool and journal length, to see that a quote
// changes neither.
func snapshot(t *testing.T, l *ledger.Redis, account string) string {
	t.Helper()
	ctx := context.Background()
	p, err := l.Pool(ctx, account, "people")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := l.JournalAll(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v %d", p, len(entries))
}

// TestChargedMiniredis: Charged reads the charged set on the embedded
// mode's miniredis too (SMISMEMBER), after a dedup settle charged ids.
func TestChargedMiniredis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { c.Close() })
	l := ledger.New(c, ledger.Options{})
	start := time.Now().Add(-time.Hour)
	if _, _, err := l.OpenPool(ctx, "acme", credit.PoolConfig{Name: "businesses", Grant: 10}, start, start.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: "acme", Pool: "businesses", JobID: "j1", Requested: 2,
		Policy: credit.Reject, Dedup: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Settle(ctx, credit.SettleRequest{Account: "acme", Pool: "businesses", JobID: "j1", Cost: 2,
		RecordIDs: []string{"b1", "b2"}}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Charged(ctx, "acme", "businesses", []string{"b2", "b3", "b1"})
	if err != nil || len(got) != 3 || !got[0] || got[1] || !got[2] {
		t.Fatalf("charged %v, %v; want [true false true]", got, err)
	}
	if got, err := l.Charged(ctx, "acme", "businesses", nil); err != nil || len(got) != 0 {
		t.Fatalf("charged of none: %v, %v", got, err)
	}
	ledgertest.CheckAccount(t, l, "acme")
}

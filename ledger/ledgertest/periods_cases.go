package ledgertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// testPeriodIndex checks the period index the refresh sweep reads: OpenPool
// and Refresh write it, PoolsEndedBefore pages it, and RefreshBatch refreshes
// many pools in one pipeline, each at most once, with per-item errors, and
// survives a flushed script cache.
func testPeriodIndex(t *testing.T, h *Harness) {
	t0 := h.Clock.Now()
	cfg := credit.PoolConfig{Name: "people", Grant: 100}
	a, b, c := h.Account("a"), h.Account("b"), h.Account("c")
	for i, acct := range []string{a, b, c} {
		end := t0.Add(time.Duration(i+1) * time.Hour)
		if _, _, err := h.L.OpenPool(ctx, acct, cfg, t0, end); err != nil {
			t.Fatal(err)
		}
	}
	ended := func(at time.Time, offset, limit int) []string {
		t.Helper()
		got, err := h.L.PoolsEndedBefore(ctx, "people", at, offset, limit)
		if err != nil {
			t.Fatal(err)
		}
		var accounts []string
		for _, e := range got {
			p := h.MustPool(t, e.Account, "people")
			if !e.PeriodEnd.Equal(p.PeriodEnd) {
				t.Fatalf("%s indexed with end %s, pool ends %s", e.Account, e.PeriodEnd, p.PeriodEnd)
			}
			accounts = append(accounts, e.Account)
		}
		return accounts
	}
	if got := ended(t0, 0, 10); got != nil {
		t.Fatalf("ended at open: %v", got)
	}
	if diff := cmp.Diff([]string{a, b}, ended(t0.Add(2*time.Hour), 0, 10)); diff != "" {
		t.Fatalf("ended by 2h (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{b}, ended(t0.Add(3*time.Hour), 1, 1)); diff != "" {
		t.Fatalf("page offset 1 limit 1 (-want +got):\n%s", diff)
	}
	if _, err := h.L.PoolsEndedBefore(ctx, "people", t0, 0, 0); !errors.Is(err, credit.ErrInvalidAmount) {
		t.Fatalf("limit 0: %v", err)
	}
	if _, err := h.L.PoolsEndedBefore(ctx, "a:b", t0, 0, 1); !errors.Is(err, credit.ErrInvalidID) {
		t.Fatalf("bad pool: %v", err)
	}

	// Refresh writes the index, applied or not.
	if _, ok, err := h.L.Refresh(ctx, a, "people", t0.Add(time.Hour), t0.Add(5*time.Hour)); err != nil || !ok {
		t.Fatalf("refresh a: %v %v", ok, err)
	}
	if diff := cmp.Diff([]string{b, c}, ended(t0.Add(4*time.Hour), 0, 10)); diff != "" {
		t.Fatalf("after refresh of a (-want +got):\n%s", diff)
	}

	// A batch: b twice (applied once), c, an unknown pool, an unknown
	// account and an empty period.
	if err := h.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p2, p2end := t0.Add(2*time.Hour), t0.Add(6*time.Hour)
	items := []ledger.RefreshItem{
		{Account: b, Pool: "people", Start: p2, End: p2end},
		{Account: b, Pool: "people", Start: p2, End: p2end},
		{Account: c, Pool: "people", Start: t0.Add(3 * time.Hour), End: p2end},
		{Account: c, Pool: "nopool", Start: p2, End: p2end},
		{Account: h.Account("nobody"), Pool: "people", Start: p2, End: p2end},
		{Account: a, Pool: "people", Start: p2end, End: p2end},
	}
	res, err := h.L.RefreshBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	var applied []bool
	for _, r := range res[:3] {
		if r.Err != nil {
			t.Fatalf("batch: %v", r.Err)
		}
		if r.Pool.Used != 0 || r.Pool.Allocated != 100 || !r.Pool.PeriodEnd.Equal(p2end) {
			t.Fatalf("batch pool: %+v", r.Pool)
		}
		applied = append(applied, r.Applied)
	}
	if !slices.Equal(applied, []bool{true, false, true}) {
		t.Fatalf("applied %v", applied)
	}
	for i, want := range []error{credit.ErrUnknownPool, credit.ErrUnknownAccount, credit.ErrInvalidAmount} {
		if got := res[3+i].Err; !errors.Is(got, want) {
			t.Errorf("item %d: %v, want %v", 3+i, got, want)
		}
	}
	if got := ended(t0.Add(5*time.Hour+time.Minute), 0, 10); !slices.Equal(got, []string{a}) {
		t.Fatalf("after batch: %v", got)
	}
	if res, err := h.L.RefreshBatch(ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("empty batch: %v %v", res, err)
	}
	h.CheckInvariants(t, a, b, c)
}

// testReindexPeriods drops index entries, as a crash between OpenPool's
// script and its index write would leave them, and lets ReindexPeriods put
// back exactly those, leaving an entry that lags alone.
func testReindexPeriods(t *testing.T, h *Harness) {
	t0 := h.Clock.Now()
	var accounts []string
	for i := range 12 {
		a := h.Account("rix")
		accounts = append(accounts, a)
		end := t0.Add(time.Duration(i+1) * time.Hour)
		for _, pool := range []string{"people", "companies"} {
			if _, _, err := h.L.OpenPool(ctx, a, credit.PoolConfig{Name: pool, Grant: 10}, t0, end); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := h.L.ReindexPeriods(ctx); err != nil || n != 0 {
		t.Fatalf("reindex of a whole index: %d, %v", n, err)
	}
	key := func(pool string) string { return h.Prefix + ":periods:" + pool }
	dropped := 0
	for i, a := range accounts {
		if i%3 == 0 {
			dropped += int(h.Client.ZRem(ctx, key("people"), a).Val())
		}
		if i%4 == 0 {
			dropped += int(h.Client.ZRem(ctx, key("companies"), a).Val())
		}
	}
	lagging := accounts[1]
	if err := h.Client.ZAdd(ctx, key("people"), redis.Z{Score: float64(t0.UnixMilli()), Member: lagging}).Err(); err != nil {
		t.Fatal(err)
	}
	if dropped != 7 {
		t.Fatalf("dropped %d entries, want 7", dropped)
	}
	if n, err := h.L.ReindexPeriods(ctx); err != nil || n != dropped {
		t.Fatalf("reindex: added %d, %v; want %d", n, err, dropped)
	}
	for _, pool := range []string{"people", "companies"} {
		got, err := h.L.PoolsEndedBefore(ctx, pool, t0.Add(24*time.Hour), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(accounts) {
			t.Fatalf("%s: %d indexed, want %d", pool, len(got), len(accounts))
		}
		for _, e := range got {
			want := h.MustPool(t, e.Account, pool).PeriodEnd
			if e.Account == lagging && pool == "people" {
				want = t0 // left alone: the sweep heals it
			}
			if !e.PeriodEnd.Equal(want) {
				t.Errorf("%s/%s indexed at %s, want %s", e.Account, pool, e.PeriodEnd, want)
			}
		}
	}
	if n, err := h.L.ReindexPeriods(ctx); err != nil || n != 0 {
		t.Fatalf("second reindex: %d, %v", n, err)
	}
	h.CheckInvariants(t, accounts...)
}

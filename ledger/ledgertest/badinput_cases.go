package ledgertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// testBadInput sends every kind of bad input to every operation: each gets a
// typed error, and nothing in Redis changes.
func testBadInput(t *testing.T, h *Harness) {
	a := h.Account("bad")
	h.Open(t, a, poolCfg("people", 100, 10))
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 5, Policy: credit.Reject})
	start, end := h.Period()
	long := strings.Repeat("x", credit.MaxIDLen+1)

	reserve := func(mod func(*credit.ReserveRequest)) func() error {
		return func() error {
			req := credit.ReserveRequest{Account: a, Pool: "people", JobID: "new", Requested: 5, Policy: credit.Reject}
			mod(&req)
			_, err := h.Reserve(req)
			return err
		}
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"reserve unknown account", reserve(func(r *credit.ReserveRequest) { r.Account = "nobody" }), credit.ErrUnknownAccount},
		{"reserve unknown pool", reserve(func(r *credit.ReserveRequest) { r.Pool = "nopool" }), credit.ErrUnknownPool},
		{"reserve zero", reserve(func(r *credit.ReserveRequest) { r.Requested = 0 }), credit.ErrInvalidAmount},
		{"reserve negative", reserve(func(r *credit.ReserveRequest) { r.Requested = -5 }), credit.ErrInvalidAmount},
		{"reserve huge", reserve(func(r *credit.ReserveRequest) { r.Requested = credit.MaxAmount + 1 }), credit.ErrInvalidAmount},
		{"reserve bad policy", reserve(func(r *credit.ReserveRequest) { r.Policy = "maybe" }), credit.ErrInvalidPolicy},
		{"reserve items count", reserve(func(r *credit.ReserveRequest) { r.ItemIDs = []string{"a"} }), credit.ErrInvalidAmount},
		{"reserve oversize job id", reserve(func(r *credit.ReserveRequest) { r.JobID = long }), credit.ErrInvalidID},
		{"reserve empty job id", reserve(func(r *credit.ReserveRequest) { r.JobID = "" }), credit.ErrInvalidID},
		{"reserve job id with {", reserve(func(r *credit.ReserveRequest) { r.JobID = "a{b" }), credit.ErrInvalidID},
		{"reserve job id with }", reserve(func(r *credit.ReserveRequest) { r.JobID = "a}b" }), credit.ErrInvalidID},
		{"reserve job id with :", reserve(func(r *credit.ReserveRequest) { r.JobID = "a:b" }), credit.ErrInvalidID},
		{"reserve job id with space", reserve(func(r *credit.ReserveRequest) { r.JobID = "a b" }), credit.ErrInvalidID},
		{"reserve account with }", reserve(func(r *credit.ReserveRequest) { r.Account = a + "}" }), credit.ErrInvalidID},
		{"reserve pool with :", reserve(func(r *credit.ReserveRequest) { r.Pool = "peo:ple" }), credit.ErrInvalidID},
		{"reserve oversize account", reserve(func(r *credit.ReserveRequest) { r.Account = long }), credit.ErrInvalidID},
		{"settle unknown job", func() error {
			_, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "none", Cost: 1})
			return err
		}, credit.ErrReservationNotFound},
		{"settle unknown account", func() error {
			_, err := h.L.Settle(ctx, credit.SettleRequest{Account: "nobody", Pool: "people", JobID: "j", Cost: 1})
			return err
		}, credit.ErrReservationNotFound},
		{"settle negative", func() error {
			_, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "j", Cost: -1})
			return err
		}, credit.ErrCostExceedsReserved},
		{"settle bad id", func() error {
			_, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: "{j}", Cost: 1})
			return err
		}, credit.ErrInvalidID},
		{"void bad account", func() error { _, err := h.L.Void(ctx, "a:b", "people", "j", ""); return err }, credit.ErrInvalidID},
		{"top-up unknown pool", func() error { _, err := h.L.TopUp(ctx, a, "nopool", 5, "", ""); return err }, credit.ErrUnknownPool},
		{"top-up unknown account", func() error { _, err := h.L.TopUp(ctx, "nobody", "people", 5, "", ""); return err }, credit.ErrUnknownAccount},
		{"top-up huge", func() error { _, err := h.L.TopUp(ctx, a, "people", credit.MaxAmount+1, "", ""); return err }, credit.ErrInvalidAmount},
		{"adjust bad pool id", func() error { _, err := h.L.Adjust(ctx, a, "p}", 5, "", ""); return err }, credit.ErrInvalidID},
		{"open negative grant", func() error {
			_, _, err := h.L.OpenPool(ctx, a, credit.PoolConfig{Name: "p2", Grant: -1}, start, end)
			return err
		}, credit.ErrInvalidAmount},
		{"open empty period", func() error {
			_, _, err := h.L.OpenPool(ctx, a, credit.PoolConfig{Name: "p2", Grant: 1}, end, start)
			return err
		}, credit.ErrInvalidAmount},
		{"open bad account", func() error {
			_, _, err := h.L.OpenPool(ctx, "{x}", credit.PoolConfig{Name: "p2", Grant: 1}, start, end)
			return err
		}, credit.ErrInvalidID},
		{"refresh bad pool", func() error { _, _, err := h.L.Refresh(ctx, a, "", start, end); return err }, credit.ErrInvalidID},
		{"pool unknown", func() error { _, err := h.L.Pool(ctx, a, "nopool"); return err }, credit.ErrUnknownPool},
		{"pools unknown account", func() error { _, err := h.L.Pools(ctx, "nobody"); return err }, credit.ErrUnknownAccount},
		{"hold bad id", func() error { _, err := h.L.Hold(ctx, "h:1"); return err }, credit.ErrInvalidID},
		{"list holds bad status", func() error {
			_, err := h.L.ListHolds(ctx, ledger.HoldFilter{Status: "late"})
			return err
		}, credit.ErrInvalidStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.Snapshot(t)
			err := c.call()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := h.Snapshot(t); after != before {
				t.Fatalf("refused call changed Redis:\n%s", cmp.Diff(before, after))
			}
		})
	}
	h.CheckInvariants(t, a)
}

package ledgertest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/events"
	"github.com/creditrun/creditrun/ledger/credit"
)

// outbox reads an account's outbox stream: each entry's type and ref.
func (h *Harness) outbox(t *testing.T, account string) [][2]string {
	t.Helper()
	msgs, err := h.Client.XRange(ctx, events.OutboxKey(h.Prefix, account), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, m := range msgs {
		typ, _ := m.Values["type"].(string)
		ref, _ := m.Values["ref"].(string)
		out = append(out, [2]string{typ, ref})
	}
	return out
}

// testOutbox: the scripts that open and close holds, refresh a period and
// take a pool below a tenth of its grant write their event to the account's
// outbox, once each, and repeating a call writes nothing more.
func testOutbox(t *testing.T, h *Harness) {
	a := h.Account("outbox")
	h.Open(t, a, poolCfg("people", 10, 100))
	r1 := overageJob(t, h, a, "o1", 15) // takes the pool to 0: pool.low; 5 overage: a hold
	h.MustSettle(t, a, "people", "o1", 15)
	r2 := overageJob(t, h, a, "o2", 3) // below the threshold still: no second pool.low
	if _, err := h.L.PayHold(ctx, r1.HoldID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.L.PayHold(ctx, r1.HoldID, "inv_1"); err != nil { // again: nothing more
		t.Fatal(err)
	}
	if _, err := h.L.WaiveHold(ctx, r2.HoldID, "goodwill"); err != nil {
		t.Fatal(err)
	}
	p := h.MustPool(t, a, "people")
	next := p.PeriodEnd
	if _, ok, err := h.L.Refresh(ctx, a, "people", next, next.AddDate(0, 1, 0)); err != nil || !ok {
		t.Fatalf("refresh: %v %v", ok, err)
	}
	if _, ok, err := h.L.Refresh(ctx, a, "people", next, next.AddDate(0, 1, 0)); err != nil || ok {
		t.Fatalf("refresh again: %v %v", ok, err)
	}
	h.Clock.Advance(next.Sub(h.Clock.Now()) + time.Minute)
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "o3", Requested: 9, Policy: credit.Reject}) // 1 left of 10, not below 1
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "o4", Requested: 1, Policy: credit.Reject}) // 0: pool.low again, in the new period
	want := [][2]string{
		{"pool.low", "people"},
		{"hold.opened", r1.HoldID},
		{"hold.opened", r2.HoldID},
		{"hold.paid", r1.HoldID},
		{"hold.waived", r2.HoldID},
		{"period.refreshed", "people"},
		{"pool.low", "people"},
	}
	if got := h.outbox(t, a); !cmp.Equal(got, want) {
		t.Fatalf("outbox (-got +want):\n%s", cmp.Diff(got, want))
	}
}

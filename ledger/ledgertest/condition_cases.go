package ledgertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/ledger/credit"
)

// testReserveCondition: a reserve with a condition holds credits only while
// the account's hash field has the value; otherwise it changes nothing. A
// job reserved before is answered whatever the condition (a retry after a
// lost reply), and a condition outside the account's slot is refused.
func testReserveCondition(t *testing.T, h *Harness) {
	a := h.Account("cond")
	h.Open(t, a, poolCfg("people", 10, 0))
	key := h.Prefix + ":{a:" + a + "}:keys"
	if err := h.Client.HSet(ctx, key, "key_1", "hash_1").Err(); err != nil {
		t.Fatal(err)
	}
	req := credit.ReserveRequest{Account: a, Pool: "people", JobID: "j1", Requested: 4, Policy: credit.Reject,
		Condition: credit.Condition{Key: key, Field: "key_1", Value: "hash_1"}}
	r := h.MustReserve(t, req)
	if r.Reserved() != 4 {
		t.Fatalf("reserved %+v under a condition that holds", r)
	}
	snap := h.Snapshot(t)
	for name, c := range map[string]credit.Condition{
		"another value": {Key: key, Field: "key_1", Value: "hash_2"},
		"no such field": {Key: key, Field: "key_2", Value: "hash_1"},
		"no such hash":  {Key: h.Prefix + ":{a:" + a + "}:nothing", Field: "key_1", Value: "hash_1"},
	} {
		req := req
		req.JobID, req.Condition = "j-"+strings.ReplaceAll(name, " ", "-"), c
		if _, err := h.Reserve(req); !errors.Is(err, credit.ErrConditionFailed) {
			t.Errorf("%s: %v, want ErrConditionFailed", name, err)
		}
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatal("a reserve whose condition failed changed Redis")
	}
	// The same job again, its condition gone: the first reservation.
	if err := h.Client.HDel(ctx, key, "key_1").Err(); err != nil {
		t.Fatal(err)
	}
	again, err := h.Reserve(req)
	if err != nil || again.Reserved() != 4 || again.CreatedAt != r.CreatedAt {
		t.Fatalf("the reserved job again: %+v, %v", again, err)
	}
	for _, other := range []string{h.Prefix + ":{a:other}:keys", h.Prefix + ":{b}:{a:" + a + "}:keys", h.Prefix + ":a:" + a + ":keys"} {
		bad := req
		bad.JobID, bad.Condition.Key = "j-other-slot", other
		if _, err := h.Reserve(bad); !errors.Is(err, credit.ErrInvalidID) {
			t.Fatalf("a condition on %s, outside the account's slot: %v, want ErrInvalidID", other, err)
		}
	}
	if p := h.MustPool(t, a, "people"); p.Reserved != 4 || p.Available() != 6 {
		t.Fatalf("pool %+v", p.Counts)
	}
	h.CheckInvariants(t, a)
}

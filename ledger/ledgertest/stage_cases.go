package ledgertest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger/credit"
)

// recordIDs returns the ids r<from> to r<to-1>.
func recordIDs(from, to int) []string {
	ids := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		ids = append(ids, fmt.Sprintf("r%d", i))
	}
	return ids
}

// testStagedDedup settles dedup downloads whose records were staged as they
// were delivered (StageRecords), as workers stage downloads too big to name
// in one call: only records the pool never charged are posted, a count that
// does not match the stage or a stage past the reservation is refused with
// nothing changed, the stage goes once settled, and attempts stage apart.
func testStagedDedup(t *testing.T, h *Harness) {
	a := h.Account("stg")
	h.Open(t, a, poolCfg("export", 10_000, 0))
	// An earlier job charged r0..r99.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "export", JobID: "d0", Requested: 100, Policy: credit.Reject, Dedup: true})
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "d0", Cost: 100, RecordIDs: recordIDs(0, 100)}); err != nil {
		t.Fatal(err)
	}

	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "export", JobID: "d1", Requested: 3000, Policy: credit.Reject, Dedup: true})
	var staged int64
	for _, batch := range [][]string{recordIDs(0, 1000), recordIDs(900, 1900), recordIDs(1900, 2500)} {
		n, err := h.L.StageRecords(ctx, a, "d1", 1, batch)
		if err != nil {
			t.Fatal(err)
		}
		staged += n
	}
	if staged != 2500 {
		t.Fatalf("staged %d distinct records, want 2500 (a hundred staged twice)", staged)
	}
	stage := h.Prefix + ":{a:" + a + "}:stage:d1:1"

	// Refused, with nothing changed: a count that is not the stage's, ids
	// besides a stage, and a stage of another attempt.
	snap := h.Snapshot(t)
	for _, req := range []credit.SettleRequest{
		{Account: a, Pool: "export", JobID: "d1", Cost: 2499, Staged: 1},
		{Account: a, Pool: "export", JobID: "d1", Cost: 2500, Staged: 1, RecordIDs: []string{"r1"}},
		{Account: a, Pool: "export", JobID: "d1", Cost: 2500, Staged: 2},
		{Account: a, Pool: "export", JobID: "d1", Cost: 2500, Staged: -1},
	} {
		if _, err := h.L.Settle(ctx, req); !errors.Is(err, credit.ErrInvalidAmount) {
			t.Fatalf("settle %+v: %v, want ErrInvalidAmount", req, err)
		}
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused settle changed Redis:\n%s", cmp.Diff(snap, after))
	}

	r, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "d1", Cost: 2500, Staged: 1})
	if err != nil || r.TotalCost != 2400 || r.Released != 600 {
		t.Fatalf("staged settle %+v, %v; want 2,400 posted (r0..r99 were charged before), 600 released", r, err)
	}
	if n, err := h.Client.Exists(ctx, stage).Result(); err != nil || n != 0 {
		t.Fatalf("the stage is still there after the settle: %d, %v", n, err)
	}
	// Redelivered, with a stage of its own: unchanged, and the late stage
	// is dropped.
	if _, err := h.L.StageRecords(ctx, a, "d1", 2, recordIDs(0, 10)); err != nil {
		t.Fatal(err)
	}
	if again, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "d1", Cost: 10, Staged: 2}); err != nil || again.TotalCost != 2400 {
		t.Fatalf("settle again %+v, %v", again, err)
	}
	if n, err := h.Client.Exists(ctx, h.Prefix+":{a:"+a+"}:stage:d1:2").Result(); err != nil || n != 0 {
		t.Fatalf("a late stage is still there after a settle of a settled job: %d, %v", n, err)
	}

	// A stage for a reservation without dedup is refused, with nothing
	// changed; a failed attempt's stage can be dropped.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "export", JobID: "p1", Requested: 5, Policy: credit.Reject})
	if _, err := h.L.StageRecords(ctx, a, "p1", 1, recordIDs(0, 5)); err != nil {
		t.Fatal(err)
	}
	snap = h.Snapshot(t)
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "p1", Cost: 5, Staged: 1}); !errors.Is(err, credit.ErrInvalidAmount) {
		t.Fatalf("a staged settle without dedup: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused settle changed Redis:\n%s", cmp.Diff(snap, after))
	}
	if err := h.L.DropStaged(ctx, a, "p1", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Client.Exists(ctx, h.Prefix+":{a:"+a+"}:stage:p1:1").Result(); err != nil || n != 0 {
		t.Fatalf("a dropped stage is still there: %d, %v", n, err)
	}
	h.MustSettle(t, a, "export", "p1", 5)

	// A stage past the reservation is refused; the next attempt stages
	// afresh, and the first attempt's stage is left to expire.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "export", JobID: "d2", Requested: 10, Policy: credit.Reject, Dedup: true})
	if n, err := h.L.StageRecords(ctx, a, "d2", 1, recordIDs(5000, 5020)); err != nil || n != 20 {
		t.Fatalf("stage d2: %d, %v", n, err)
	}
	snap = h.Snapshot(t)
	if _, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "d2", Cost: 20, Staged: 1}); !errors.Is(err, credit.ErrCostExceedsReserved) {
		t.Fatalf("20 new records on 10 credits: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatalf("a refused settle changed Redis:\n%s", cmp.Diff(snap, after))
	}
	ids := append(recordIDs(5000, 5005), recordIDs(0, 3)...) // three charged before
	if n, err := h.L.StageRecords(ctx, a, "d2", 2, ids); err != nil || n != 8 {
		t.Fatalf("stage d2 attempt 2: %d, %v", n, err)
	}
	if r, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "export", JobID: "d2", Cost: 8, Staged: 2}); err != nil || r.TotalCost != 5 || r.Released != 5 {
		t.Fatalf("d2 settle %+v, %v", r, err)
	}
	if ttl, err := h.Client.PTTL(ctx, h.Prefix+":{a:"+a+"}:stage:d2:1").Result(); err != nil || ttl <= 0 {
		t.Fatalf("the first attempt's stage: ttl %v, %v; want it kept to expire", ttl, err)
	}

	if _, err := h.L.StageRecords(ctx, a, "d3", 0, []string{"x"}); !errors.Is(err, credit.ErrInvalidAmount) {
		t.Fatalf("attempt 0: %v", err)
	}
	// I7: every record charged once.
	if n, err := h.L.ChargedRecords(ctx, a, "export"); err != nil || n != 2505 {
		t.Fatalf("dedup set has %d ids, %v; want 2,505", n, err)
	}
	if p := h.MustPool(t, a, "export"); p.Used != 2510 {
		t.Fatalf("used %d, want 2,510 (2,505 records and a job of 5 without dedup)", p.Used)
	}
	h.CheckInvariants(t, a)
}

package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// testCheckpoint writes checkpoints ten days apart with a retention of five
// days: each run trims the journal to the checkpoint before the cut, keeps
// every entry after it, and the journal still replays to the pools, an open
// reservation's hold included; a run repeated with its key, or one with
// nothing new to state, changes nothing more.
func testCheckpoint(t *testing.T, h *Harness) {
	const day = 24 * time.Hour
	a := h.Account("ck")
	h.Open(t, a, poolCfg("people", 100, 50))
	h.Open(t, a, poolCfg("export", 100, 0))
	topUp := func(pool string, n int64) {
		t.Helper()
		if _, err := h.L.TopUp(ctx, a, pool, n, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	topUp("people", 5)
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "open1", Requested: 30, Policy: credit.Reject})
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "over1", Requested: 100, Policy: credit.Overage})
	h.MustSettle(t, a, "people", "over1", 100)
	topUp("export", 7)
	before := journal(t, h, a)

	checkpoint := func(key string, retention time.Duration) ledger.CheckpointResult {
		t.Helper()
		var cut time.Time
		if retention > 0 {
			cut = h.Clock.Now().Add(-retention)
		}
		r, err := h.L.Checkpoint(ctx, a, key, cut)
		if err != nil {
			t.Fatalf("checkpoint %s: %v", key, err)
		}
		h.CheckInvariants(t, a)
		checkVerify(t, h.L, a)
		return r
	}

	// The first checkpoint has none before the cut: nothing goes.
	h.Clock.Advance(10 * day)
	r1 := checkpoint("d1", 5*day)
	if !r1.Written || r1.Trimmed != 0 || r1.ID == "" {
		t.Fatalf("first checkpoint: %+v", r1)
	}
	if got := journal(t, h, a); len(got) != len(before)+1 {
		t.Fatalf("after the first checkpoint: %d entries, want %d", len(got), len(before)+1)
	}

	// Entries between checkpoints; the open reservation stays open.
	topUp("people", 3)
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "export", JobID: "mid1", Requested: 4, Policy: credit.Reject})
	between := journal(t, h, a)[len(before):]

	// The second run trims to the first checkpoint and keeps what follows.
	h.Clock.Advance(10 * day)
	r2 := checkpoint("d2", 5*day)
	if !r2.Written || r2.Trimmed != int64(len(before)) {
		t.Fatalf("second checkpoint: %+v, want %d trimmed", r2, len(before))
	}
	after := journal(t, h, a)
	if len(after) != len(between)+1 || after[0].ID != r1.ID || after[0].Type != credit.EntryCheckpoint ||
		after[len(after)-1].ID != r2.ID {
		t.Fatalf("journal after the trim: %d entries from %s to %s; want %d from %s to %s",
			len(after), after[0].ID, after[len(after)-1].ID, len(between)+1, r1.ID, r2.ID)
	}
	for i, e := range between {
		if after[i].ID != e.ID {
			t.Fatalf("entry %d after the trim is %s, want %s", i, after[i].ID, e.ID)
		}
	}
	if held := after[0].Checkpoint.Held["open1"]; held.Pool != "people" || held.Prepaid != 30 {
		t.Fatalf("the first checkpoint holds %+v for open1, want 30 prepaid in people", held)
	}

	// The same key again, and another key with nothing new, change nothing.
	snap := h.Snapshot(t)
	if r, err := h.L.Checkpoint(ctx, a, "d2", h.Clock.Now().Add(-5*day)); err != nil || r.Written || r.Trimmed != 0 || r.ID != r2.ID {
		t.Fatalf("repeated run: %+v, %v", r, err)
	}
	if got := h.Snapshot(t); got != snap {
		t.Fatalf("a repeated run changed the keys:\n%s\nwant\n%s", got, snap)
	}
	h.Clock.Advance(day)
	if r := checkpoint("d3", 5*day); r.Written || r.Trimmed != 0 || r.ID != r2.ID {
		t.Fatalf("run with nothing new: %+v, want no checkpoint written and none trimmed", r)
	}
	if got := journal(t, h, a); len(got) != len(after) {
		t.Fatalf("run with nothing new: %d entries, want %d", len(got), len(after))
	}

	// Customers' pages leave checkpoints out; the whole journal has them.
	page, _, err := h.L.Journal(ctx, a, ledger.JournalQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		if e.Type == credit.EntryCheckpoint {
			t.Fatalf("a customer's page holds checkpoint %s", e.ID)
		}
	}
	if len(page) != len(after)-2 {
		t.Fatalf("a customer's page: %d entries, want %d", len(page), len(after)-2)
	}

	// The reservation held across both trims still settles, and replays.
	h.MustSettle(t, a, "people", "open1", 12)
	h.Clock.Advance(10 * day)
	if r := checkpoint("d4", 5*day); !r.Written || r.Trimmed != int64(len(between)) {
		t.Fatalf("third checkpoint: %+v, want %d trimmed", r, len(between))
	}

	// A retention of zero trims nothing.
	topUp("export", 1)
	n := len(journal(t, h, a))
	h.Clock.Advance(10 * day)
	if r := checkpoint("d5", 0); !r.Written || r.Trimmed != 0 {
		t.Fatalf("checkpoint without a cut: %+v", r)
	}
	if got := journal(t, h, a); len(got) != n+1 {
		t.Fatalf("checkpoint without a cut: %d entries, want %d", len(got), n+1)
	}

	// CheckpointAll reaches the account.
	topUp("export", 1)
	if st, err := h.L.CheckpointAll(ctx, "d6", time.Time{}); err != nil || st.Accounts == 0 || st.Written == 0 {
		t.Fatalf("checkpoint all: %+v, %v", st, err)
	}
	if got := journal(t, h, a); got[len(got)-1].Type != credit.EntryCheckpoint {
		t.Fatalf("checkpoint all wrote no checkpoint for %s", a)
	}
	h.CheckInvariants(t, a)

	// An account without a journal gets no checkpoint; an unknown one is refused.
	if _, err := h.L.Checkpoint(ctx, h.Account("nobody"), "d1", time.Time{}); !errors.Is(err, credit.ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
}

func journal(t *testing.T, h *Harness, a string) []credit.Entry {
	t.Helper()
	all, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatalf("journal of %s: %v", a, err)
	}
	return all
}

// checkVerify asserts that ledger.Verify finds nothing wrong with the account.
func checkVerify(t *testing.T, l *ledger.Redis, a string) {
	t.Helper()
	rep, err := l.Verify(ctx, ledger.VerifyOptions{Account: a})
	if err != nil {
		t.Fatalf("verify %s: %v", a, err)
	}
	if !rep.OK {
		t.Fatalf("verify %s: %+v", a, rep.Failures)
	}
}

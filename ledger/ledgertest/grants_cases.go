package ledgertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// testGrantOrder spends a pool's allocation first, then its grants by
// priority, then earliest expiry (never last), then age; a job's release
// goes back to each source it took from; the journal names each grant.
func testGrantOrder(t *testing.T, h *Harness) {
	a := h.Account("gord")
	h.Open(t, a, poolCfg("people", 10, 0))
	now := h.Clock.Now()
	add := func(id string, amount int64, expires time.Duration, priority int64) {
		t.Helper()
		req := credit.GrantRequest{Account: a, Pool: "people", ID: id, Amount: amount, Priority: priority, Reason: "pack"}
		if expires > 0 {
			req.ExpiresAt = now.Add(expires)
		}
		if _, created, err := h.L.AddGrant(ctx, req); err != nil || !created {
			t.Fatalf("add %s: created %v, %v", id, created, err)
		}
		h.Clock.Advance(time.Second)
	}
	add("grant_never", 5, 0, 0)
	add("grant_late", 5, 48*time.Hour, 0)
	add("grant_soon", 5, 24*time.Hour, 0)
	add("grant_first", 5, 0, -1)
	if p := h.MustPool(t, a, "people"); p.GrantsAvailable != 20 || p.Available() != 30 {
		t.Fatalf("pool with grants: %+v, available %d", p.Counts, p.Available())
	}
	r := h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "big", Requested: 27, Policy: credit.Reject})
	want := []credit.GrantPart{{GrantID: "grant_first", Credits: 5}, {GrantID: "grant_soon", Credits: 5},
		{GrantID: "grant_late", Credits: 5}, {GrantID: "grant_never", Credits: 2}}
	if r.FromAllocation() != 10 || !slices.Equal(r.FromGrants, want) || r.Remaining != 3 {
		t.Fatalf("reservation %+v, want 10 from the allocation and grants %v", r, want)
	}
	// A cost of 12: 10 from the allocation, 2 from grant_first; the rest
	// goes back to each grant.
	h.MustSettle(t, a, "people", "big", 12)
	p := h.MustPool(t, a, "people")
	if p.Used != 10 || p.Reserved != 0 || p.GrantsAvailable != 18 || p.Available() != 18 {
		t.Fatalf("after settling 12 of 27: %+v", p.Counts)
	}
	gs, err := h.L.Grants(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if gs[0].ID != "grant_first" || gs[0].Remaining != 3 || gs[0].Held != 0 || gs[3].ID != "grant_never" || gs[3].Remaining != 5 {
		t.Fatalf("grants after the settle: %+v", gs)
	}
	entries, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	named := map[credit.EntryType]int{}
	for _, e := range entries {
		if e.GrantID != "" {
			named[e.Type]++
		}
	}
	// four grants added, four reserves, one post, four releases
	if named[credit.EntryGrantAdded] != 4 || named[credit.EntryReserve] != 4 || named[credit.EntryPost] != 1 || named[credit.EntryRelease] != 4 {
		t.Fatalf("journal entries naming a grant: %v", named)
	}
	h.CheckInvariants(t, a)
}

// testGrantExpiry expires a grant at its expires_at: what it could still
// give is forfeited with a journal entry, a job in flight keeps and spends
// what it reserved, and what that job gives back is forfeited.
func testGrantExpiry(t *testing.T, h *Harness) {
	a := h.Account("gexp")
	h.Open(t, a, poolCfg("people", 0, 0))
	g, _, err := h.L.AddGrant(ctx, credit.GrantRequest{Account: a, Pool: "people", ID: "grant_x", Amount: 100,
		ExpiresAt: h.Clock.Now().Add(time.Hour), Reason: "promo"})
	if err != nil {
		t.Fatal(err)
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "inflight", Requested: 30, Policy: credit.Reject})
	h.Clock.Advance(time.Hour)
	p := h.MustPool(t, a, "people")
	if p.GrantsAvailable != 0 || p.Available() != 0 {
		t.Fatalf("after the expiry: %+v", p.Counts)
	}
	_, err = h.Reserve(credit.ReserveRequest{Account: a, Pool: "people", JobID: "late", Requested: 1, Policy: credit.Reject})
	if ie, ok := errors.AsType[*credit.InsufficientError](err); !ok || ie.Available != 0 {
		t.Fatalf("a reserve after the expiry: %v", err)
	}
	r := h.MustSettle(t, a, "people", "inflight", 20)
	if r.TotalCost != 20 || r.Released != 10 {
		t.Fatalf("the job in flight settled %+v", r)
	}
	got, err := h.L.Grant(ctx, a, g.ID)
	if err != nil || got.Status != credit.GrantExpired || got.Remaining != 0 || got.Held != 0 || !got.EndedAt.Equal(g.ExpiresAt) {
		t.Fatalf("expired grant %+v, %v", got, err)
	}
	if p := h.MustPool(t, a, "people"); p.Available() != 0 || p.GrantsAvailable != 0 {
		t.Fatalf("a release to an expired grant was not forfeited: %+v", p.Counts)
	}
	entries, err := h.L.JournalAll(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var expired []credit.Entry
	for _, e := range entries {
		if e.Type == credit.EntryGrantExpired {
			expired = append(expired, e)
		}
	}
	if len(expired) != 1 || expired[0].Amount != 70 || expired[0].GrantID != g.ID {
		t.Fatalf("grant_expired entries %+v, want one of 70", expired)
	}
	h.CheckInvariants(t, a)
}

// testGrantAddVoid adds grants once per id, refuses the same id with other
// terms and bad input, and voids: what remains is forfeited, once.
func testGrantAddVoid(t *testing.T, h *Harness) {
	a := h.Account("gadd")
	h.Open(t, a, poolCfg("people", 10, 0))
	req := credit.GrantRequest{Account: a, Pool: "people", ID: credit.GrantIDFor(a, "key-1"), Amount: 50, Reason: "pack-50"}
	first, created, err := h.L.AddGrant(ctx, req)
	if err != nil || !created {
		t.Fatalf("add: %v", err)
	}
	snap := h.Snapshot(t)
	again, created, err := h.L.AddGrant(ctx, req)
	if err != nil || created || again != first {
		t.Fatalf("add again: %+v created %v, %v", again, created, err)
	}
	other := req
	other.Amount = 51
	if _, _, err := h.L.AddGrant(ctx, other); !errors.Is(err, credit.ErrGrantConflict) {
		t.Fatalf("the same id with other terms: %v", err)
	}
	for name, bad := range map[string]credit.GrantRequest{
		"zero":        {Account: a, Pool: "people", ID: "grant_z", Amount: 0},
		"too much":    {Account: a, Pool: "people", ID: "grant_z", Amount: credit.MaxAmount + 1},
		"past expiry": {Account: a, Pool: "people", ID: "grant_z", Amount: 1, ExpiresAt: h.Clock.Now().Add(-time.Second)},
		"bad id":      {Account: a, Pool: "people", ID: "g:1", Amount: 1},
		"priority":    {Account: a, Pool: "people", ID: "grant_z", Amount: 1, Priority: credit.MaxGrantPriority + 1},
	} {
		if _, _, err := h.L.AddGrant(ctx, bad); !errors.Is(err, credit.ErrInvalidAmount) && !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := h.L.AddGrant(ctx, credit.GrantRequest{Account: a, Pool: "nope", ID: "grant_z", Amount: 1}); !errors.Is(err, credit.ErrUnknownPool) {
		t.Fatalf("unknown pool: %v", err)
	}
	if after := h.Snapshot(t); after != snap {
		t.Fatal("a refused grant changed Redis")
	}
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "j", Requested: 25, Policy: credit.Reject})
	v, err := h.L.VoidGrant(ctx, a, first.ID, "refunded the pack")
	if err != nil || v.Status != credit.GrantVoided || v.Remaining != 15 || v.Held != 15 {
		t.Fatalf("void: %+v, %v", v, err)
	}
	if p := h.MustPool(t, a, "people"); p.GrantsAvailable != 0 || p.Available() != 0 {
		t.Fatalf("after the void: %+v", p.Counts)
	}
	if again, err := h.L.VoidGrant(ctx, a, first.ID, "again"); err != nil || again != v {
		t.Fatalf("void again: %+v, %v", again, err)
	}
	if _, err := h.L.VoidGrant(ctx, a, "grant_none", ""); !errors.Is(err, credit.ErrGrantNotFound) {
		t.Fatalf("void unknown: %v", err)
	}
	// The job keeps what it held of the voided grant; the release is forfeited.
	if _, err := h.L.Void(ctx, a, "people", "j", "canceled"); err != nil {
		t.Fatal(err)
	}
	if p := h.MustPool(t, a, "people"); p.Available() != 10 {
		t.Fatalf("after the job's void: %+v", p.Counts)
	}
	h.CheckInvariants(t, a)
}

// testGrantRefund refunds jobs that spent grants: what each active grant
// gave goes back to it, what an ended grant gave is forfeited, and the
// reservation's refunded count is all that came back, grants and
// allocation together.
func testGrantRefund(t *testing.T, h *Harness) {
	a := h.Account("gref")
	h.Open(t, a, poolCfg("people", 10, 0))
	for _, id := range []string{"grant_kept", "grant_gone"} {
		if _, _, err := h.L.AddGrant(ctx, credit.GrantRequest{Account: a, Pool: "people", ID: id, Amount: 20, Reason: "pack"}); err != nil {
			t.Fatal(err)
		}
		h.Clock.Advance(time.Second)
	}
	// 10 from the allocation and 15 from grant_kept, the older grant.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "kept", Requested: 25, Policy: credit.Reject})
	h.MustSettle(t, a, "people", "kept", 25)
	// 5 more from grant_kept, then 10 from grant_gone.
	h.MustReserve(t, credit.ReserveRequest{Account: a, Pool: "people", JobID: "gone", Requested: 15, Policy: credit.Reject})
	h.MustSettle(t, a, "people", "gone", 15)
	if p := h.MustPool(t, a, "people"); p.Available() != 10 || p.GrantsAvailable != 10 || p.Used != 10 {
		t.Fatalf("before the refunds: %+v", p.Counts)
	}
	r, err := h.L.Refund(ctx, a, "kept", "abandoned")
	if err != nil || r.State != credit.Refunded || r.Refunded != 25 {
		t.Fatalf("refund of a job that spent the allocation and a grant: %+v, %v; want 25 refunded", r, err)
	}
	if p := h.MustPool(t, a, "people"); p.Used != 0 || p.GrantsAvailable != 25 || p.Available() != 35 {
		t.Fatalf("after the first refund: %+v", p.Counts)
	}
	if _, err := h.L.VoidGrant(ctx, a, "grant_gone", "charged back"); err != nil {
		t.Fatal(err)
	}
	// "gone" took 5 from grant_kept (back to it) and 10 from grant_gone
	// (voided: forfeited).
	r, err = h.L.Refund(ctx, a, "gone", "abandoned")
	if err != nil || r.Refunded != 5 {
		t.Fatalf("refund of a job whose grant was voided: %+v, %v; want 5 refunded", r, err)
	}
	g, err := h.L.Grant(ctx, a, "grant_kept")
	if err != nil || g.Remaining != 20 {
		t.Fatalf("grant_kept after both refunds: %+v, %v", g, err)
	}
	if p := h.MustPool(t, a, "people"); p.Used != 0 || p.GrantsAvailable != 20 || p.Available() != 30 {
		t.Fatalf("after both refunds: %+v", p.Counts)
	}
	h.CheckInvariants(t, a)
}

package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditrun/creditrun/client"
)

// TestGrants adds, lists and voids a credit grant through the client, on
// the real API and Redis: the same IdempotencyKey adds once, the pool
// counts the grant, a spend past the period allocation names it in the
// journal, and the void forfeits what it had left.
func TestGrants(t *testing.T) {
	s := newStack(t)
	account, user, _ := s.account(t, "people-1k-99")
	admin := s.adminClient(t)
	ctx := t.Context()
	s.setAvailable(t, account, "people", 0)

	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	req := client.AddGrantRequest{Pool: "people", Amount: 30, ExpiresAt: &expires, Priority: 2, Reason: "pack", IdempotencyKey: "pack-1"}
	g, err := admin.AddGrant(ctx, account, req)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != client.GrantActive || g.Amount != 30 || g.Remaining != 30 || g.Priority != 2 || g.Reason != "pack" ||
		g.ExpiresAt == nil || !g.ExpiresAt.Equal(expires) || g.CreatedAt.IsZero() {
		t.Fatalf("grant %+v", g)
	}
	if again, err := admin.AddGrant(ctx, account, req); err != nil || again.ID != g.ID {
		t.Fatalf("again: %+v, %v; want grant %s", again, err, g.ID)
	}
	never, err := admin.AddGrant(ctx, account, client.AddGrantRequest{Pool: "people", Amount: 5})
	if err != nil || never.ExpiresAt != nil || never.ID == g.ID {
		t.Fatalf("a grant that never expires: %+v, %v", never, err)
	}
	_, err = admin.AddGrant(ctx, account, client.AddGrantRequest{Pool: "nope", Amount: 5})
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Code != client.CodeInvalidRequest || e.Field() != "pool" {
		t.Fatalf("unknown pool: %v", err)
	}

	a, err := user.GetAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := a.Pools["people"]; p.GrantsAvailable != 35 || p.Available != 35 {
		t.Fatalf("pool %+v, want 35 available from the grants", p)
	}
	mine, err := user.Grants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byAdmin, err := admin.AccountGrants(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	// Priority 0 is spent before priority 2.
	if len(mine) != 2 || mine[0].ID != never.ID || mine[1].ID != g.ID || len(byAdmin) != 2 || byAdmin[1].ID != g.ID {
		t.Fatalf("grants %+v, by admin %+v", mine, byAdmin)
	}

	if _, err := user.Search(ctx, client.SearchRequest{DataType: "people", Query: "*", NumRecords: 8}); err != nil {
		t.Fatal(err)
	}
	var fromGrant []int64
	for e, err := range user.AllEntries(ctx, client.LedgerQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == client.EntryReserve && e.GrantID != "" {
			fromGrant = append(fromGrant, e.Amount)
			if e.GrantID == never.ID && e.Amount != 5 || e.GrantID == g.ID && e.Amount != 3 {
				t.Errorf("reserve entry %+v, want 5 from %s then 3 from %s", e, never.ID, g.ID)
			}
		}
	}
	if len(fromGrant) != 2 {
		t.Errorf("reserve entries from grants %v, want two", fromGrant)
	}

	v, err := admin.VoidGrant(ctx, account, g.ID, "refund")
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != client.GrantVoided || v.Remaining != 0 {
		t.Fatalf("voided %+v", v)
	}
	var voided bool
	for e, err := range user.AllEntries(ctx, client.LedgerQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == client.EntryGrantVoided {
			voided = e.GrantID == g.ID && e.Amount == 27 && e.Reason == "refund"
		}
	}
	if !voided {
		t.Error("no grant_voided entry of 27 credits naming the grant and the reason")
	}
	if _, err := user.VoidGrant(ctx, account, never.ID, ""); !client.IsCode(err, client.CodeForbidden) {
		t.Errorf("a user key voids a grant: %v, want forbidden", err)
	}
	if _, err := admin.VoidGrant(ctx, account, "grant_nosuch", ""); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("void an unknown grant: %v, want not_found", err)
	}
	s.check(t, account)
}

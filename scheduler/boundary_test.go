package scheduler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
)

// boundaryPlans is a plan whose periods last two seconds.
const boundaryPlans = `
plans:
  ticks:
    pool: ticks
    data_types: [people]
    operations: [search]
    credits: 10
    refresh: "@every 2s"
`

// maxLag is how long after its time a refresh or an expiry may be
// journaled: the sweep looks every second, and a loaded machine may run it
// late. The contract says "within a few seconds".
const maxLag = 5 * time.Second

// TestBoundaryOnTime runs three schedulers, as three processes would, on
// real Redis and the real clock, against a plan of two-second periods and a
// grant that expires: with no call touching the pool, each period's refresh
// is journaled once, within a few seconds of its boundary, and so is the
// grant's expiry.
func TestBoundaryOnTime(t *testing.T) {
	catalog, err := plan.Parse([]byte(boundaryPlans))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "tb" + hex.EncodeToString(b)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var l *ledger.Redis
	for i := range 3 {
		c := redis.NewClient(&redis.Options{Addr: server.Addr()})
		t.Cleanup(func() { c.Close() })
		li := ledger.New(c, ledger.Options{Prefix: prefix})
		accounts := jobstore.New(c, jobstore.Options{Prefix: prefix})
		if i == 0 {
			l = li
			svc := jobs.NewService(jobs.Config{Ledger: li, Accounts: accounts, Catalog: catalog})
			if _, err := svc.CreateAccount(ctx, "acme", "", []string{"ticks"}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := scheduler.NewRefresher(scheduler.RefresherConfig{Ledger: li, Accounts: accounts, Catalog: catalog})
		if err != nil {
			t.Fatal(err)
		}
		entries := []scheduler.Entry{{Name: "refresh", Spec: "@every 1s", Did: "refreshed", RunFunc: r.SweepDue},
			{Name: "expire-grants", Spec: "@every 1s", Did: "expired grants", RunFunc: r.ExpireDue}}
		wg.Go(func() {
			if err := scheduler.Run(runCtx, entries, scheduler.RunOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
				t.Error(err)
			}
		})
	}
	g, _, err := l.AddGrant(ctx, credit.GrantRequest{Account: "acme", Pool: "ticks", ID: "grant_soon", Amount: 5,
		ExpiresAt: time.Now().Add(3 * time.Second).Truncate(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}

	// Wait for four refreshes and the expiry, reading only the journal.
	var entries []credit.Entry
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		entries, err = l.JournalAll(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		refreshes, expired := 0, 0
		for _, e := range entries {
			switch e.Type {
			case credit.EntryRefresh:
				refreshes++
			case credit.EntryGrantExpired:
				expired++
			}
		}
		if refreshes >= 4 && expired == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %d refreshes, %d expiries in the journal", refreshes, expired)
		}
	}
	stop()
	wg.Wait()

	entries, err = l.JournalAll(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for _, e := range entries {
		switch e.Type {
		case credit.EntryRefresh:
			if !e.PeriodStart.After(last) {
				t.Errorf("refresh of period %s after one of %s: a period refreshed twice", e.PeriodStart, last)
			}
			last = e.PeriodStart
			if lag := e.At.Sub(e.PeriodStart); lag < 0 || lag > maxLag {
				t.Errorf("the refresh of period %s was journaled at %s, %s after its boundary", e.PeriodStart, e.At, lag)
			}
		case credit.EntryGrantExpired:
			if lag := e.At.Sub(g.ExpiresAt); e.GrantID != g.ID || lag < 0 || lag > maxLag {
				t.Errorf("grant %s expiring at %s: entry %+v, %s late", g.ID, g.ExpiresAt, e, lag)
			}
		}
	}
	ledgertest.CheckAccount(t, l, "acme")
}

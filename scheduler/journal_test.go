package scheduler_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/scheduler"
)

// TestJournalTrim runs two journal trimmers (two schedulers, each on its own
// client) daily for two months with a retention of ten days over accounts
// that keep moving credits: each day writes one checkpoint per account
// however many trimmers run, the journals stay short, and each still
// replays to its pools.
func TestJournalTrim(t *testing.T) {
	targets(t, func(t *testing.T, newClient newClientFunc) {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		prefix := "t" + hex.EncodeToString(b)
		clock := ledgertest.NewClock(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC))
		var l *ledger.Redis
		var trimmers []*scheduler.JournalTrimmer
		for i := range 2 {
			li := ledger.New(newClient(t), ledger.Options{Prefix: prefix, NowFunc: clock.Now})
			if i == 0 {
				l = li
			}
			tr, err := scheduler.NewJournalTrimmer(scheduler.JournalTrimmerConfig{Ledger: li, Retention: 10 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			trimmers = append(trimmers, tr)
		}
		accounts := []string{"a1", "a2", "a3"}
		for _, a := range accounts {
			now := clock.Now()
			if _, _, err := l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 1000}, now, now.AddDate(1, 0, 0)); err != nil {
				t.Fatal(err)
			}
		}
		trimmed := 0
		for day := range 60 {
			for i, a := range accounts {
				for k := range 3 {
					if _, err := l.TopUp(ctx, a, "people", int64(k+1), "", ""); err != nil {
						t.Fatal(err)
					}
				}
				job := "j" + time.Duration(day).String() + a
				if _, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: job, Requested: int64(i + 1), Policy: credit.Reject}); err != nil {
					t.Fatal(err)
				}
				if day%2 == 0 { // every other job stays open a while
					if _, err := l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: job, Cost: 1}); err != nil {
						t.Fatal(err)
					}
				}
			}
			clock.Advance(24 * time.Hour)
			for _, tr := range trimmers {
				n, err := tr.Trim(ctx, clock.Now())
				if err != nil {
					t.Fatalf("day %d: %v", day, err)
				}
				trimmed += n
			}
		}
		if trimmed == 0 {
			t.Fatal("nothing trimmed in two months with a retention of ten days")
		}
		for _, a := range accounts {
			ledgertest.CheckAccount(t, l, a)
			all, err := l.JournalAll(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			// At most 12 days (the retention, the day before the cut,
			// today) of at most 6 entries and a checkpoint each stay.
			if len(all) > 12*7 || all[0].Type != credit.EntryCheckpoint {
				t.Fatalf("%s: %d entries from %s, want at most %d from a checkpoint", a, len(all), all[0].Type, 12*7)
			}
			days := map[string]bool{}
			for _, e := range all {
				if e.Type != credit.EntryCheckpoint {
					continue
				}
				d := e.At.Format(time.DateOnly)
				if days[d] {
					t.Fatalf("%s: two checkpoints on %s", a, d)
				}
				days[d] = true
			}
			if len(days) < 10 {
				t.Fatalf("%s: %d checkpoints kept, want one a day of the retention", a, len(days))
			}
		}
		rep, err := l.Verify(ctx, ledger.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Failures {
			for _, a := range accounts {
				if f.Account == a {
					t.Errorf("verify: %+v", f)
				}
			}
		}
	})
}

// TestJournalTrimOff: a retention of 0 keeps every entry.
func TestJournalTrimOff(t *testing.T) {
	tr, err := scheduler.NewJournalTrimmer(scheduler.JournalTrimmerConfig{Ledger: ledger.New(nil, ledger.Options{}), Retention: 0})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Trim(ctx, time.Now()); n != 0 || err != nil {
		t.Fatalf("trim with retention 0: %d, %v", n, err)
	}
	if _, err := scheduler.NewJournalTrimmer(scheduler.JournalTrimmerConfig{Ledger: ledger.New(nil, ledger.Options{}), Retention: -time.Hour}); err == nil {
		t.Fatal("a negative retention was taken")
	}
}

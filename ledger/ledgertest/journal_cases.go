package ledgertest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// testJournalScan pages one pool out of a journal longer than a page reads:
// a page stops after ledger.JournalScan entries, short or empty, with a next
// cursor, and the pages together hold every entry of the pool once.
func testJournalScan(t *testing.T, h *Harness) {
	a := h.Account("scan")
	h.Open(t, a, poolCfg("people", 100, 0))
	h.Open(t, a, poolCfg("export", 100, 0))
	for range ledger.JournalScan + 10 {
		if _, err := h.L.TopUp(ctx, a, "export", 1, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.L.TopUp(ctx, a, "people", 7, "", ""); err != nil {
		t.Fatal(err)
	}
	total := ledger.JournalScan + 13
	for _, c := range []struct {
		pool  string
		want  []credit.EntryType
		pages int
	}{
		{"people", []credit.EntryType{credit.EntryGrant, credit.EntryTopup}, 2},
		{"unused", nil, 2},
	} {
		var got []credit.EntryType
		cursor, pages := "", 0
		for {
			page, next, err := h.L.Journal(ctx, a, ledger.JournalQuery{Pool: c.pool, Limit: 10, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range page {
				got = append(got, e.Type)
			}
			if next == "" {
				break
			}
			if pages > total {
				t.Fatalf("%s: more pages than entries", c.pool)
			}
			cursor = next
		}
		if !cmp.Equal(got, c.want) || pages != c.pages {
			t.Errorf("%s: %v in %d pages, want %v in %d (each reading at most %d entries)", c.pool, got, pages, c.want, c.pages, ledger.JournalScan)
		}
	}
	h.CheckInvariants(t, a)
}

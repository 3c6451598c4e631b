package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// JournalQuery selects a page of an account's journal.
type JournalQuery struct {
	// Pool selects one pool's entries; empty selects all.
	Pool string
	// Limit is the page size. Defaults to 100.
	Limit int
	// Cursor is the previous page's next cursor; empty starts at the oldest.
	Cursor string
}

// Journal returns a page of an account's journal, oldest first, and the
// cursor of the next page (empty on the last). Returns an error wrapping
// credit.ErrInvalidCursor for a cursor that is not a journal position.
func (l *Redis) Journal(ctx context.Context, account string, q JournalQuery) ([]credit.Entry, string, error) {
	if err := credit.CheckID("account", account); err != nil {
		return nil, "", err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	start := "-"
	if q.Cursor != "" {
		if !validStreamID(q.Cursor) {
			return nil, "", fmt.Errorf("journal cursor %q: %w", q.Cursor, credit.ErrInvalidCursor)
		}
		start = "(" + q.Cursor
	}
	entries := []credit.Entry{}
	for {
		batch := max(q.Limit+1-len(entries), 100)
		msgs, err := l.client.XRangeN(ctx, l.keys.journal(account), start, "+", int64(batch)).Result()
		if err != nil {
			return nil, "", fmt.Errorf("journal of %s: %w", account, err)
		}
		for _, m := range msgs {
			e := parseEntry(m)
			if q.Pool != "" && e.Pool != q.Pool {
				continue
			}
			if len(entries) == q.Limit {
				return entries, entries[len(entries)-1].ID, nil
			}
			entries = append(entries, e)
		}
		if len(msgs) < batch {
			return entries, "", nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// JournalAll returns an account's whole journal, oldest first.
func (l *Redis) JournalAll(ctx context.Context, account string) ([]credit.Entry, error) {
	var all []credit.Entry
	cursor := ""
	for {
		page, next, err := l.Journal(ctx, account, JournalQuery{Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

func validStreamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	return ok && ms != "" && seq != "" && strings.Trim(ms, "0123456789") == "" && strings.Trim(seq, "0123456789") == ""
}

func parseEntry(m redis.XMessage) credit.Entry {
	v := make(map[string]string, len(m.Values))
	for k, x := range m.Values {
		v[k] = str(x)
	}
	return credit.Entry{
		ID:             m.ID,
		Seq:            i64(v, "seq"),
		At:             ms(v, "at"),
		Type:           credit.EntryType(v["type"]),
		Pool:           v["pool"],
		JobID:          v["job"],
		HoldID:         v["hold"],
		Amount:         i64(v, "amount"),
		AvailableAfter: i64(v, "avail"),
		Reason:         v["reason"],
		Delta: credit.Counts{
			Allocated:          i64(v, "da"),
			Used:               i64(v, "du"),
			Reserved:           i64(v, "dr"),
			OverageReserved:    i64(v, "dor"),
			OverageOutstanding: i64(v, "doo"),
		},
		PeriodStart: ms(v, "period_start"),
		PeriodEnd:   ms(v, "period_end"),
	}
}

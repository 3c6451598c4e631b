package ledger

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// JournalScan is the most journal entries one page reads when the page is
// not full sooner: a page of a pool with few entries in a long journal stops
// there, short or empty, with a next cursor to go on from, so that no one
// request reads the whole journal.
const JournalScan = 1000

// JournalQuery selects a page of an account's journal.
type JournalQuery struct {
	// Pool selects one pool's entries; empty selects all.
	Pool string
	// Limit is the page size. Defaults to 100.
	Limit int
	// Cursor is the previous page's next cursor; empty starts at the oldest.
	Cursor string
	// Checkpoints includes the checkpoint entries (credit.EntryCheckpoint),
	// which move no credits; a listing for customers leaves them out.
	Checkpoints bool
}

// Journal returns a page of an account's journal, oldest first, and the
// cursor of the next page (empty on the last). A page reads at most
// JournalScan entries (or Limit+1, when more): when those hold fewer than
// Limit entries of the pool asked for, the page is short, even empty, and its
// next cursor goes on from the last entry read. Returns an error wrapping
// credit.ErrInvalidCursor for a cursor that is not a journal position, and
// credit.ErrInvalidID for an account id that is not one.
func (l *Redis) Journal(ctx context.Context, account string, q JournalQuery) ([]credit.Entry, string, error) {
	if err := credit.CheckID("account", account); err != nil {
		return nil, "", err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	start := "-"
	if q.Cursor != "" {
		if !ValidCursor(q.Cursor) {
			return nil, "", fmt.Errorf("journal cursor %q: %w", q.Cursor, credit.ErrInvalidCursor)
		}
		start = "(" + q.Cursor
	}
	entries := []credit.Entry{}
	budget := max(JournalScan, q.Limit+1)
	last := ""
	for budget > 0 {
		batch := min(budget, max(q.Limit+1-len(entries), 100))
		msgs, err := l.client.XRangeN(ctx, l.keys.journal(account), start, "+", int64(batch)).Result()
		if err != nil {
			return nil, "", fmt.Errorf("journal of %s: %w", account, err)
		}
		budget -= len(msgs)
		for _, m := range msgs {
			e := parseEntry(m)
			if (q.Pool != "" && e.Pool != q.Pool) || (!q.Checkpoints && e.Type == credit.EntryCheckpoint) {
				last = m.ID
				continue
			}
			if len(entries) == q.Limit {
				return entries, entries[len(entries)-1].ID, nil
			}
			entries = append(entries, e)
			last = m.ID
		}
		if len(msgs) < batch {
			return entries, "", nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return entries, last, nil
}

// JournalAll returns an account's whole journal, oldest first, checkpoints
// included.
func (l *Redis) JournalAll(ctx context.Context, account string) ([]credit.Entry, error) {
	var all []credit.Entry
	cursor := ""
	for {
		page, next, err := l.Journal(ctx, account, JournalQuery{Limit: 1000, Cursor: cursor, Checkpoints: true})
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

// ValidCursor reports whether s is a journal cursor: a stream entry id, two
// unsigned 64-bit integers in decimal without leading zeros joined by a dash
// ("1767225600000-0"), short of the greatest id, after which nothing can
// follow. Anything else would reach Redis as an id it refuses.
func ValidCursor(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil && strconv.FormatUint(a, 10) == ms && strconv.FormatUint(b, 10) == seq &&
		(a != math.MaxUint64 || b != math.MaxUint64)
}

func parseEntry(m redis.XMessage) credit.Entry {
	v := make(map[string]string, len(m.Values))
	for k, x := range m.Values {
		v[k] = str(x)
	}
	e := credit.Entry{
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
			Carried:            i64(v, "dc"),
			GrantsAvailable:    i64(v, "dga"),
		},
		GrantID:     v["grant"],
		GrantDelta:  credit.GrantDelta{Remaining: i64(v, "dgr"), Held: i64(v, "dgh")},
		PeriodStart: ms(v, "period_start"),
		PeriodEnd:   ms(v, "period_end"),
	}
	if e.Type == credit.EntryCheckpoint {
		e.Checkpoint = parseCheckpoint(v)
	}
	return e
}

package client

import (
	"context"
	"iter"
)

// AllJobs yields every job q selects, newest first, page after page from
// q.Cursor on. It stops at the first error, which it yields with a zero
// Job.
func (c *Client) AllJobs(ctx context.Context, q JobsQuery) iter.Seq2[Job, error] {
	return pages(q.Cursor, func(cursor string) ([]Job, string, error) {
		q := q // each page its own copy: ranges may run at once
		q.Cursor = cursor
		p, err := c.ListJobs(ctx, q)
		if err != nil {
			return nil, "", err
		}
		return p.Jobs, p.NextCursor, nil
	})
}

// AllEntries yields every journal entry q selects, oldest first, as
// AllJobs does.
func (c *Client) AllEntries(ctx context.Context, q LedgerQuery) iter.Seq2[Entry, error] {
	return pages(q.Cursor, func(cursor string) ([]Entry, string, error) {
		q := q // each page its own copy: ranges may run at once
		q.Cursor = cursor
		p, err := c.Ledger(ctx, q)
		if err != nil {
			return nil, "", err
		}
		return p.Entries, p.NextCursor, nil
	})
}

// AllHolds yields every hold q selects, newest first, as AllJobs does.
func (c *Client) AllHolds(ctx context.Context, q HoldsQuery) iter.Seq2[Hold, error] {
	return pages(q.Cursor, func(cursor string) ([]Hold, string, error) {
		q := q // each page its own copy: ranges may run at once
		q.Cursor = cursor
		p, err := c.ListHolds(ctx, q)
		if err != nil {
			return nil, "", err
		}
		return p.Holds, p.NextCursor, nil
	})
}

// pages yields the items of page after page, from the page at first on,
// until a page has no next cursor, or an error. Each range over it starts
// at first again.
func pages[T any](first string, page func(cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := first
		for {
			items, next, err := page(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			cursor = next
		}
	}
}

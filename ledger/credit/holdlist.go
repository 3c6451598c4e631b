package credit

// HoldFilter selects holds to list.
type HoldFilter struct {
	// Status selects one status; empty selects all.
	Status HoldStatus
	// Account selects one account's holds; empty selects every account's.
	Account string
	// Limit is the page size. Defaults to 50.
	Limit int
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
}

// HoldPage is one page of holds, newest first.
type HoldPage struct {
	Holds []Hold
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string
	// TotalDueCents sums AmountDueCents over the unpaid holds the filter
	// selects, across all pages: due means unpaid, so it is 0 for a list
	// of paid or waived holds.
	TotalDueCents int64
}

package credit

import "time"

// Counts are the balances of one pool. Every count is in credits.
type Counts struct {
	// Allocated is this period's grant plus top-ups and adjustments.
	Allocated int64 `json:"allocated"`
	// Used counts prepaid credits posted this period.
	Used int64 `json:"used"`
	// Reserved counts prepaid credits held by jobs in flight.
	Reserved int64 `json:"reserved"`
	// OverageReserved counts overage credits held by jobs in flight.
	OverageReserved int64 `json:"overage_reserved"`
	// OverageOutstanding counts posted overage that is not yet paid or waived.
	OverageOutstanding int64 `json:"overage_outstanding"`
	// Carried counts prepaid credits that jobs in flight hold from an
	// ended period's allocation: still theirs to spend, but what they give
	// back is forfeited, never added to a later period.
	Carried int64 `json:"carried"`
	// GrantsAvailable is what the pool's active grants can still give: their
	// remaining credits less what jobs in flight hold from them.
	GrantsAvailable int64 `json:"grants_available"`
}

// Available is what a new reservation may take from the prepaid balance:
// allocated - used - reserved of the period allocation, plus what the
// grants can give.
func (c Counts) Available() int64 { return c.AllocationAvailable() + c.GrantsAvailable }

// AllocationAvailable is the period allocation's part of Available:
// allocated - used - reserved.
func (c Counts) AllocationAvailable() int64 { return c.Allocated - c.Used - c.Reserved }

// Add returns c with every count of d added to it.
func (c Counts) Add(d Counts) Counts {
	return Counts{
		Allocated:          c.Allocated + d.Allocated,
		Used:               c.Used + d.Used,
		Reserved:           c.Reserved + d.Reserved,
		OverageReserved:    c.OverageReserved + d.OverageReserved,
		OverageOutstanding: c.OverageOutstanding + d.OverageOutstanding,
		Carried:            c.Carried + d.Carried,
		GrantsAvailable:    c.GrantsAvailable + d.GrantsAvailable,
	}
}

// Balance is a pool's counts with the period they belong to.
type Balance struct {
	Counts
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
}

// PoolConfig is what a plan says about the pool it fills.
type PoolConfig struct {
	// Name is the pool's name, such as "people" or "export".
	Name string
	// Grant is the allocation of each period, in credits.
	Grant int64
	// OverageEnabled allows the overage policy on this pool.
	OverageEnabled bool
	// OverageLimit caps OverageOutstanding + OverageReserved.
	OverageLimit int64
	// OveragePriceCents is the price of one overage credit.
	OveragePriceCents int64
	// Schedule is the cron spec of the period boundaries (robfig/cron,
	// UTC). With it the ledger starts a pool's new period at its boundary,
	// whichever call comes first; without it only Refresh does.
	Schedule string
}

// Pool is one pool of one account: its configuration and its balance.
type Pool struct {
	Account string
	PoolConfig
	Balance
}

// Headroom is how much overage a new reservation may still take:
// limit - outstanding - reserved overage, and 0 when overage is disabled.
func (p Pool) Headroom() int64 {
	return Headroom(p.OverageEnabled, p.OverageLimit, p.Counts)
}

// Headroom is the overage still open under limit given the counts c.
func Headroom(enabled bool, limit int64, c Counts) int64 {
	if !enabled {
		return 0
	}
	return max(0, limit-c.OverageOutstanding-c.OverageReserved)
}

// Check reports the first invariant (I1) that the counts break, or nil.
func (p Pool) Check() error {
	return CheckCounts(p.Account, p.Name, p.OverageEnabled, p.OverageLimit, p.Counts)
}

// Equal reports whether two balances have the same counts and period.
func (b Balance) Equal(o Balance) bool {
	return b.Counts == o.Counts && b.PeriodStart.Equal(o.PeriodStart) && b.PeriodEnd.Equal(o.PeriodEnd)
}

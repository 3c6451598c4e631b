package credit

import (
	"fmt"
	"time"
)

// EntryType says what a journal entry records.
type EntryType string

// The journal entry types of API.md.
const (
	EntryGrant      EntryType = "grant"       // a pool opens with its first period's grant
	EntryRefresh    EntryType = "refresh"     // a new period: used resets, allocated becomes the grant
	EntryTopup      EntryType = "topup"       // allocated grows
	EntryAdjust     EntryType = "adjust"      // allocated changes either way
	EntryReserve    EntryType = "reserve"     // credits held for a job
	EntryPost       EntryType = "post"        // prepaid credits spent by a job
	EntryRelease    EntryType = "release"     // held credits given back
	EntryOverage    EntryType = "overage"     // overage credits spent by a job: debt
	EntryHoldPaid   EntryType = "hold_paid"   // overage debt paid
	EntryHoldWaived EntryType = "hold_waived" // overage debt forgiven
	EntryRefund     EntryType = "refund"      // a job's posted charge given back, keyed by the job
)

// Entry is one change to one pool. The ledger writes it in the same script as
// the change, so the journal alone rebuilds the pools.
type Entry struct {
	// ID is the entry's position in the account's stream.
	ID string `json:"-"`
	// Seq increases by one per account.
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Type EntryType `json:"type"`
	Pool string    `json:"pool"`
	// JobID is set on entries that concern a job.
	JobID  string `json:"job_id,omitempty"`
	HoldID string `json:"hold_id,omitempty"`
	// Amount is the credits the entry is about, as a client reads it.
	Amount int64 `json:"amount"`
	// AvailableAfter is the pool's available balance after the change.
	AvailableAfter int64  `json:"available_after"`
	Reason         string `json:"reason,omitempty"`
	// Delta is the exact change to each count.
	Delta Counts `json:"-"`
	// PeriodStart and PeriodEnd are set by grant and refresh entries.
	PeriodStart time.Time `json:"-"`
	PeriodEnd   time.Time `json:"-"`
}

// Replay rebuilds every pool's balance from an account's journal, oldest entry
// first. It returns an error when seq does not increase by one, when an entry
// names a pool before its grant, or when a pool's available balance disagrees
// with an entry's AvailableAfter.
func Replay(entries []Entry) (map[string]Balance, error) {
	pools := make(map[string]Balance)
	var last int64
	for _, e := range entries {
		if e.Seq != last+1 {
			return nil, fmt.Errorf("replay: entry %s has seq %d after %d", e.ID, e.Seq, last)
		}
		last = e.Seq
		b, ok := pools[e.Pool]
		if !ok && e.Type != EntryGrant {
			return nil, fmt.Errorf("replay: seq %d: %s on pool %q before its grant", e.Seq, e.Type, e.Pool)
		}
		b.Counts = b.Add(e.Delta)
		if e.Type == EntryGrant || e.Type == EntryRefresh {
			b.PeriodStart, b.PeriodEnd = e.PeriodStart, e.PeriodEnd
		}
		if got := b.Available(); got != e.AvailableAfter {
			return nil, fmt.Errorf("replay: seq %d (%s %s): available %d, entry says %d", e.Seq, e.Type, e.Pool, got, e.AvailableAfter)
		}
		pools[e.Pool] = b
	}
	return pools, nil
}

package credit

import "time"

// EntryType says what a journal entry records.
type EntryType string

// The journal entry types of API.md.
const (
	EntryGrant        EntryType = "grant"         // a pool opens with its first period's grant
	EntryRefresh      EntryType = "refresh"       // a new period: used resets, allocated becomes the grant
	EntryTopup        EntryType = "topup"         // allocated grows
	EntryAdjust       EntryType = "adjust"        // allocated changes either way
	EntryReserve      EntryType = "reserve"       // credits held for a job
	EntryPost         EntryType = "post"          // prepaid credits spent by a job
	EntryRelease      EntryType = "release"       // held credits given back
	EntryOverage      EntryType = "overage"       // overage credits spent by a job: debt
	EntryHoldPaid     EntryType = "hold_paid"     // overage debt paid
	EntryHoldWaived   EntryType = "hold_waived"   // overage debt forgiven
	EntryRefund       EntryType = "refund"        // a job's posted charge given back, keyed by the job
	EntryGrantAdded   EntryType = "grant_added"   // a grant's credits, added to what the pool can spend
	EntryGrantExpired EntryType = "grant_expired" // a grant's unspent credits forfeited at its expiry
	EntryGrantVoided  EntryType = "grant_voided"  // a grant's unspent credits forfeited when voided
	// EntryCheckpoint moves nothing: it states every pool's balance, and
	// what each open reservation holds, as of the entry before it, so that
	// the journal before it may be trimmed and replay start from it.
	EntryCheckpoint EntryType = "checkpoint"
)

// Checkpoint is the state a checkpoint entry carries.
type Checkpoint struct {
	// Pools is every pool of the account, by name.
	Pools map[string]Balance
	// Held is what each job with an open reservation holds, by job id.
	Held map[string]Held
}

// Held is what one job's open reservation holds.
type Held struct {
	Pool    string
	Prepaid int64
	Overage int64
}

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
	// GrantID is set on entries that move credits of a grant.
	GrantID string `json:"grant_id,omitempty"`
	// Amount is the credits the entry is about, as a client reads it.
	Amount int64 `json:"amount"`
	// AvailableAfter is the pool's available balance after the change.
	AvailableAfter int64  `json:"available_after"`
	Reason         string `json:"reason,omitempty"`
	// Delta is the exact change to each count.
	Delta Counts `json:"-"`
	// GrantDelta is the exact change to the grant GrantID names: what it
	// has remaining, and what jobs hold from it.
	GrantDelta GrantDelta `json:"-"`
	// PeriodStart and PeriodEnd are set by grant and refresh entries.
	PeriodStart time.Time `json:"-"`
	PeriodEnd   time.Time `json:"-"`
	// Checkpoint is set on checkpoint entries, whose Seq is that of the
	// entry before them.
	Checkpoint *Checkpoint `json:"-"`
}

// Replay rebuilds every pool's balance from an account's journal, oldest entry
// first, with the checks of Replayer.Add: seq increases by one, no entry
// names a pool before its grant, every entry's AvailableAfter is the pool's
// available balance, and every checkpoint states what the entries before it
// replay to. A journal trimmed to a checkpoint replays from that checkpoint.
func Replay(entries []Entry) (map[string]Balance, error) {
	var r Replayer
	for _, e := range entries {
		if err := r.Add(e); err != nil {
			return nil, err
		}
	}
	return r.Pools(), nil
}

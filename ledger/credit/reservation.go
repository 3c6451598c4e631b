package credit

import "time"

// ReservationState is where a reservation is in its two phases.
type ReservationState string

// The states of a reservation. Voided and Refunded are final; Settled is
// final but for a refund, once, of a job that will not show its work.
const (
	Reserved ReservationState = "reserved"
	Settled  ReservationState = "settled"
	Voided   ReservationState = "voided"
	Refunded ReservationState = "refunded"
)

// ReserveRequest asks for credits for one job.
type ReserveRequest struct {
	Account string
	Pool    string
	// JobID names the reservation. Reserving the same job id again returns the
	// first reservation.
	JobID string
	// Requested is num_records for a search or a download, and the number of
	// items for an enrichment. With ItemIDs set it must equal len(ItemIDs).
	Requested int64
	// ItemIDs are the record ids of an enrichment's items, in request order,
	// with "" where the id is not known before matching. Nil for searches and
	// downloads.
	ItemIDs []string
	// Policy is the shortfall policy.
	Policy Policy
	// Dedup makes record ids already charged in the pool free. The ids are
	// recorded when the charge is posted.
	Dedup bool
	// ChargeAtAcceptance posts the charge at once instead of reserving it, for
	// plans that charge enrichment per submitted item. Such a reservation is
	// settled from the start, and voiding it changes nothing.
	ChargeAtAcceptance bool
	// Condition, when set, is checked in the reserve's atomic step before
	// anything is held: the reserve goes on only while it holds, and
	// otherwise changes nothing and answers ErrConditionFailed. A job id
	// reserved before is answered as always, whatever the condition.
	Condition Condition
}

// Condition is a hash field of the account's that must have a value: Key is a
// Redis key in the account's hash slot (it carries the account's hash tag),
// Field one of its fields, Value what the field must hold. The API makes a
// submit by a key it holds in process conditional on the key still being one
// of the account's, so that a revocation stops it without a read of its own.
type Condition struct {
	Key, Field, Value string
}

// Set reports whether c is a condition, not the zero value.
func (c Condition) Set() bool { return c.Key != "" }

// Reservation is the record of one job's credits, from reserve to its end.
type Reservation struct {
	Account string           `json:"account_id"`
	Pool    string           `json:"pool"`
	JobID   string           `json:"job_id"`
	State   ReservationState `json:"state"`

	// Requested is what the client asked for.
	Requested int64 `json:"requested"`
	// Skipped counts items that dedup made free.
	Skipped int64 `json:"skipped_duplicates"`
	// Processed is what will run.
	Processed int64 `json:"processed"`
	// Prepaid is the credits held from the prepaid balance: the period
	// allocation and, past it, grants.
	Prepaid int64 `json:"prepaid"`
	// FromGrants is the part of Prepaid each grant gave, in the order they
	// gave it; the rest of Prepaid came from the period allocation.
	FromGrants []GrantPart `json:"from_grants,omitempty"`
	// Period is the start of the pool's period when the credits were
	// reserved: once it has ended, what the reservation holds of that
	// period's allocation is carried, and what it gives back is forfeited.
	Period time.Time `json:"period_start"`
	// Overage is the credits held from the overage headroom.
	Overage int64 `json:"overage_reserved"`
	// Remaining is the pool's available balance right after the reservation.
	Remaining int64 `json:"credits_remaining"`
	// Kept says per enrichment item whether it runs; nil for other jobs.
	Kept []bool `json:"kept,omitempty"`

	Dedup              bool `json:"dedup"`
	ChargeAtAcceptance bool `json:"charge_at_acceptance"`

	// TotalCost, Released, PrepaidPosted and OveragePosted are set at
	// settlement; Released is set by a void too.
	TotalCost     int64  `json:"total_cost"`
	Released      int64  `json:"credits_released"`
	PrepaidPosted int64  `json:"prepaid_posted"`
	OveragePosted int64  `json:"overage"`
	HoldID        string `json:"hold_id,omitempty"`

	// Refunded is what a refund gave back: the prepaid part posted and the
	// overage of a hold it waived. OverageRefundDue is the overage of a hold
	// that was paid before the refund: money for finance to pay back, since
	// the ledger cannot.
	Refunded         int64 `json:"credits_refunded,omitempty"`
	OverageRefundDue int64 `json:"overage_refund_due,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	// EndedAt is when the reservation was settled or voided.
	EndedAt time.Time `json:"ended_at"`
	// RefundedAt is when it was refunded; zero unless it was.
	RefundedAt time.Time `json:"refunded_at,omitzero"`
}

// GrantPart is what one grant gave to one reservation.
type GrantPart struct {
	GrantID string `json:"grant_id"`
	Credits int64  `json:"credits"`
}

// FromAllocation is the part of Prepaid that came from the period
// allocation.
func (r Reservation) FromAllocation() int64 {
	n := r.Prepaid
	for _, g := range r.FromGrants {
		n -= g.Credits
	}
	return n
}

// Reserved is all that the job holds: prepaid plus overage.
func (r Reservation) Reserved() int64 { return r.Prepaid + r.Overage }

// Needed is the credits the request needed: Requested - Skipped.
func (r Reservation) Needed() int64 { return r.Requested - r.Skipped }

// Partial reports whether the shortfall cut the job short.
func (r Reservation) Partial() bool { return r.Processed < r.Requested }

// SettleRequest posts one job's true cost.
type SettleRequest struct {
	Account string
	// Pool is the pool the job reserved from.
	Pool  string
	JobID string
	// Cost is the job's true cost: records delivered, or items matched or
	// submitted. It is at most what the job reserved.
	Cost int64
	// RecordIDs name the charged records, one per credit of Cost, for a
	// reservation made with Dedup; nil otherwise.
	RecordIDs []string
	// Staged, when above 0, is the attempt of the job whose records were
	// staged in the ledger as they were delivered (StageRecords), for a
	// reservation made with Dedup: they are the charged records instead of
	// RecordIDs, and Cost is how many distinct ids were staged.
	Staged int
}

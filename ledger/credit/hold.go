package credit

import "time"

// HoldStatus is the state of an overage hold.
type HoldStatus string

// The states of a hold. A hold opens unpaid; finance pays or waives it once.
const (
	HoldUnpaid HoldStatus = "unpaid"
	HoldPaid   HoldStatus = "paid"
	HoldWaived HoldStatus = "waived"
)

// Valid reports whether s is one of the three statuses.
func (s HoldStatus) Valid() bool { return s == HoldUnpaid || s == HoldPaid || s == HoldWaived }

// Hold locks a job's results while its overage is unpaid.
type Hold struct {
	ID             string     `json:"id"`
	Account        string     `json:"account_id"`
	JobID          string     `json:"job_id"`
	Pool           string     `json:"pool"`
	OverageCredits int64      `json:"overage_credits"`
	AmountDueCents int64      `json:"amount_due_cents"`
	Status         HoldStatus `json:"status"`
	CreatedAt      time.Time  `json:"created_at"`
	// PaidAt is when the hold was paid or waived; zero while unpaid.
	PaidAt      time.Time `json:"paid_at"`
	PaymentRef  string    `json:"payment_ref"`
	WaiveReason string    `json:"waive_reason,omitempty"`
	// RefundDueCredits is set on a paid hold whose job was refunded after
	// the payment (its worker died before recording it): the overage
	// credits finance was paid for and owes back. Zero otherwise.
	RefundDueCredits int64 `json:"refund_due_credits,omitempty"`
}

// HoldIDFor is the id of the hold that a job's settlement opens. A job opens
// at most one hold, so the id follows from the job's.
func HoldIDFor(jobID string) string { return "hold_" + jobID }

package credit

import (
	"errors"
	"fmt"
)

// Sentinel errors of the ledger. Callers test them with errors.Is; the API maps
// each to one status and code.
var (
	// ErrInvalidID is returned for an account, pool, job or hold id that is
	// empty, longer than MaxIDLen, or holds '{', '}', ':', whitespace or a
	// control character.
	ErrInvalidID = errors.New("invalid id")
	// ErrInvalidAmount is returned for an amount out of range: zero or negative
	// where it must be positive, or over MaxAmount.
	ErrInvalidAmount = errors.New("invalid amount")
	// ErrInvalidPolicy is returned for a shortfall policy that is not reject,
	// partial or overage.
	ErrInvalidPolicy = errors.New("invalid shortfall policy")
	// ErrUnknownAccount is returned when the account has no pools.
	ErrUnknownAccount = errors.New("unknown account")
	// ErrUnknownPool is returned when the account exists but the pool does not.
	ErrUnknownPool = errors.New("unknown pool")
	// ErrOverageDisabled is returned for the overage policy on a pool whose plan
	// does not enable overage.
	ErrOverageDisabled = errors.New("overage is not enabled on this pool")
	// ErrConditionFailed is returned by a reserve whose Condition does not
	// hold. Nothing changes.
	ErrConditionFailed = errors.New("the reserve's condition does not hold")
	// ErrReservationNotFound is returned when a job has no reservation.
	ErrReservationNotFound = errors.New("reservation not found")
	// ErrReservationConflict is returned when a job id that already has a
	// reservation is reserved again with a different pool or amount.
	ErrReservationConflict = errors.New("job id already reserved with other terms")
	// ErrAlreadySettled is returned by Void for a reservation that was settled,
	// or that was posted at acceptance. Nothing changes.
	ErrAlreadySettled = errors.New("reservation already settled")
	// ErrAlreadyVoided is returned by Settle for a voided reservation. Nothing
	// changes.
	ErrAlreadyVoided = errors.New("reservation already voided")
	// ErrAlreadyRefunded is returned by Void and Settle for a reservation
	// that was refunded: its job ended without showing its work, and it
	// can be neither released nor charged again. Nothing changes.
	ErrAlreadyRefunded = errors.New("reservation already refunded")
	// ErrReservationOpen is returned by Refund for a reservation that is
	// neither settled nor ended: it is voided, not refunded. Nothing changes.
	ErrReservationOpen = errors.New("reservation is open: void it instead")
	// ErrKeyConflict is returned when the key of a keyed change (a top-up or
	// an adjustment) was used before for a different change. Nothing
	// changes.
	ErrKeyConflict = errors.New("key used before for a different change")
	// ErrCostExceedsReserved is returned by Settle for a cost that is negative
	// or larger than what the job reserved.
	ErrCostExceedsReserved = errors.New("cost exceeds the reservation")
	// ErrHoldNotFound is returned for an unknown hold id.
	ErrHoldNotFound = errors.New("hold not found")
	// ErrHoldConflict is returned when paying a waived hold or waiving a paid
	// one. Nothing changes.
	ErrHoldConflict = errors.New("hold already closed otherwise")
)

// InsufficientError is returned when a reservation or an adjustment cannot be
// made: the pool has less than required. Nothing was reserved.
type InsufficientError struct {
	Pool string
	// Required is the credits the request needed.
	Required int64
	// Available is the most the request could have reserved: prepaid available,
	// plus the overage headroom under the overage policy.
	Available int64
}

func (e *InsufficientError) Error() string {
	return fmt.Sprintf("Not enough credits. Required: %d, Available: %d", e.Required, e.Available)
}

// ErrInvalidStatus is returned for a hold status filter that is not unpaid,
// paid or waived.
var ErrInvalidStatus = errors.New("invalid hold status")

// ErrInvalidCursor is returned for a page cursor that does not come from the
// previous page of the same listing.
var ErrInvalidCursor = errors.New("invalid cursor")

package credit

import "fmt"

// Settlement is how one job's true cost splits against its reservation.
type Settlement struct {
	// Cost is the credits posted: TotalCost of the job.
	Cost int64
	// PrepaidPosted is the part of Cost taken from the prepaid reservation.
	PrepaidPosted int64
	// OveragePosted is the part of Cost beyond the prepaid reservation. It
	// becomes overage debt and opens a hold.
	OveragePosted int64
	// Released is what goes back: prepaid + overage - Cost.
	Released int64
}

// Settle splits cost against a reservation of prepaid and overage credits. The
// prepaid part is spent first. It returns ErrCostExceedsReserved when cost is
// negative or larger than prepaid + overage.
func Settle(prepaid, overage, cost int64) (Settlement, error) {
	if cost < 0 || cost > prepaid+overage {
		return Settlement{}, fmt.Errorf("%w: cost %d, reserved %d", ErrCostExceedsReserved, cost, prepaid+overage)
	}
	pp := min(cost, prepaid)
	return Settlement{
		Cost:          cost,
		PrepaidPosted: pp,
		OveragePosted: cost - pp,
		Released:      prepaid + overage - cost,
	}, nil
}

// AmountDueCents is the price of overage credits.
func AmountDueCents(overageCredits, priceCents int64) int64 { return overageCredits * priceCents }

package credit

import "fmt"

// Policy says what a reservation does when the pool is short.
type Policy string

// The shortfall policies of DESIGN.md.
const (
	// Reject refuses the request and reserves nothing.
	Reject Policy = "reject"
	// Partial reserves what is available and runs only that much. With nothing
	// available it refuses.
	Partial Policy = "partial"
	// Overage reserves the shortfall from the overage headroom, where the plan
	// enables overage, and refuses beyond it.
	Overage Policy = "overage"
)

// Valid reports whether p is one of the three policies.
func (p Policy) Valid() bool { return p == Reject || p == Partial || p == Overage }

// Split decides how much of need to reserve from the prepaid available balance
// and how much from the overage headroom under policy p.
//
// It returns an *InsufficientError when p refuses the shortfall, and
// ErrInvalidPolicy for an unknown policy. A need of zero reserves nothing and
// always succeeds. Split does not check that overage is enabled; headroom is 0
// where it is not.
func Split(p Policy, need, available, headroom int64) (prepaid, overage int64, err error) {
	if !p.Valid() {
		return 0, 0, fmt.Errorf("%w: %q", ErrInvalidPolicy, p)
	}
	available = max(available, 0)
	headroom = max(headroom, 0)
	switch {
	case need <= 0:
		return 0, 0, nil
	case need <= available:
		return need, 0, nil
	}
	switch p {
	case Partial:
		if available == 0 {
			return 0, 0, &InsufficientError{Required: need, Available: 0}
		}
		return available, 0, nil
	case Overage:
		if need-available <= headroom {
			return available, need - available, nil
		}
		return 0, 0, &InsufficientError{Required: need, Available: available + headroom}
	default:
		return 0, 0, &InsufficientError{Required: need, Available: available}
	}
}

// Items is the choice of which enrichment items run, made at reservation.
type Items struct {
	// Kept says, per item in request order, whether it runs.
	Kept []bool
	// Skipped counts items that dedup made free: their record id was charged
	// in the pool before, or appears earlier in the same request.
	Skipped int64
	// Processed counts the items that run, free ones included.
	Processed int64
}

// CountChargeable returns how many of ids need credits: all of them without
// dedup; with dedup, those whose id is unknown ("") or neither charged before
// (charged reports it) nor repeated earlier in ids.
func CountChargeable(ids []string, dedup bool, charged func(id string) bool) (need int64) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if dedup && id != "" {
			if charged(id) || seen[id] {
				continue
			}
			seen[id] = true
		}
		need++
	}
	return need
}

// ChooseItems walks ids in request order and keeps every free item and the
// first capacity chargeable ones; it drops the rest. A partial enrichment thus
// keeps the first items in request order. A repeated id is free only when its
// first occurrence was kept. Skipped is counted as CountChargeable counts it,
// so that the credits needed are len(ids) - Skipped.
func ChooseItems(ids []string, dedup bool, charged func(id string) bool, capacity int64) Items {
	it := Items{Kept: make([]bool, len(ids))}
	seen := make(map[string]bool, len(ids))
	it.Skipped = int64(len(ids)) - CountChargeable(ids, dedup, charged)
	for i, id := range ids {
		free := dedup && id != "" && (charged(id) || seen[id])
		switch {
		case free:
		case capacity > 0:
			capacity--
			if dedup && id != "" {
				seen[id] = true
			}
		default:
			continue
		}
		it.Kept[i] = true
		it.Processed++
	}
	return it
}

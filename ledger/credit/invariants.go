package credit

import "fmt"

// CheckCounts reports the first breach of invariant I1 in the counts of one
// pool, or nil: no count is negative, available is not negative, and
// overage_outstanding + overage_reserved <= overage_limit.
func CheckCounts(account, pool string, overageEnabled bool, overageLimit int64, c Counts) error {
	name := account + "/" + pool
	switch {
	case c.Allocated < 0 || c.Used < 0 || c.Reserved < 0 || c.OverageReserved < 0 || c.OverageOutstanding < 0:
		return fmt.Errorf("I1: %s has a negative count: %+v", name, c)
	case c.Available() < 0:
		return fmt.Errorf("I1: %s has available %d < 0: %+v", name, c.Available(), c)
	case c.OverageOutstanding+c.OverageReserved > overageLimit:
		return fmt.Errorf("I1: %s has overage %d outstanding + %d reserved > limit %d",
			name, c.OverageOutstanding, c.OverageReserved, overageLimit)
	case !overageEnabled && c.OverageReserved > 0:
		return fmt.Errorf("I1: %s reserves overage %d with overage disabled", name, c.OverageReserved)
	}
	return nil
}

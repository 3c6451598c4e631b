package jobs

import "testing"

// TestChargeStands checks ChargeStands against the rule the service
// refunds by: an ended job keeps its charge exactly when no refund is due.
func TestChargeStands(t *testing.T) {
	for _, st := range []Status{Queued, Running, Succeeded, Failed, Canceled} {
		for _, accept := range []bool{false, true} {
			for _, attempts := range []int{0, 1} {
				j := Job{Status: st, ChargeAtAcceptance: accept, Attempts: attempts}
				want := st.Terminal() && !refundDue(j)
				if got := j.ChargeStands(); got != want {
					t.Errorf("%s, at acceptance %v, %d attempts: ChargeStands %v, want %v", st, accept, attempts, got, want)
				}
			}
		}
	}
}

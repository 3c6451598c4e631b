package jobs

// ChargeStands reports whether a job that has ended keeps what it was
// charged: it succeeded, was canceled, or failed after a charge posted at
// acceptance had started running. A job that failed otherwise is due a
// refund of whatever it was charged (Service.FinishCharge); a job that has
// not ended keeps nothing yet.
func (j Job) ChargeStands() bool {
	switch j.Status {
	case Succeeded, Canceled:
		return true
	case Failed:
		return j.ChargeAtAcceptance && j.Attempts > 0
	}
	return false
}

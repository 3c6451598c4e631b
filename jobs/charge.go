package jobs

// ChargeStands reports whether a job that has ended keeps what it was
// charged: it succeeded, or it was canceled or failed after it had started
// (a charge posted at acceptance stands once its job has started). A job
// that failed or was canceled before it started keeps no charge: the
// customer got nothing. One that failed otherwise is due a refund of
// whatever it was charged (Service.FinishCharge); a job that has not ended
// keeps nothing yet.
func (j Job) ChargeStands() bool {
	switch j.Status {
	case Succeeded:
		return true
	case Canceled:
		// A reservation is voided at cancel, so only a charge posted at
		// acceptance can be left to stand or not.
		return !j.ChargeAtAcceptance || j.Attempts > 0
	case Failed:
		return j.ChargeAtAcceptance && j.Attempts > 0
	}
	return false
}

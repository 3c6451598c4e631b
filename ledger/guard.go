package ledger

import "github.com/creditrun/creditrun/ledger/credit"

// SettledGuard names the field of a job's reservation that holds its state,
// and the state of a settled reservation: a job store that checks the field
// in the script that marks the job succeeded writes the success only while
// its settlement stands. Where Redis may lose an acknowledged write (fsync
// every second, a failover without WAIT), a settle can be lost after its
// caller saw it succeed; the guard then keeps the job running, so that the
// next delivery settles it again (keyed by the job) instead of leaving a
// succeeded job whose reservation the reaper voids. The key lives in the
// account's hash slot.
func (l *Redis) SettledGuard(account, job string) (key, field, value string) {
	return l.keys.reservation(account, job), "state", string(credit.Settled)
}

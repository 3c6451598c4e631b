// Package events names what creditrun tells webhook endpoints about, and
// where those events wait to be delivered: an outbox stream per account,
// which the ledger's and the job store's scripts write in the same step as
// the change an event tells of. Package webhook moves them out and delivers
// them. It holds names only, so that the scripts' owners and the relay agree
// on them without importing one another.
package events

// Type is an event's type, as the body's "type" says.
type Type string

// The event types.
const (
	JobSucceeded    Type = "job.succeeded"
	JobFailed       Type = "job.failed"
	JobCanceled     Type = "job.canceled"
	HoldOpened      Type = "hold.opened"
	HoldPaid        Type = "hold.paid"
	HoldWaived      Type = "hold.waived"
	PoolLow         Type = "pool.low"
	PeriodRefreshed Type = "period.refreshed"
)

// All is every event type, in the order the docs list them.
var All = []Type{JobSucceeded, JobFailed, JobCanceled, HoldOpened, HoldPaid, HoldWaived, PoolLow, PeriodRefreshed}

// Valid reports whether t is a known event type.
func (t Type) Valid() bool {
	for _, x := range All {
		if x == t {
			return true
		}
	}
	return false
}

// OutboxKey is the stream of an account's events not yet moved into
// deliveries. It carries the account's hash tag, so that the scripts that
// change the account can write it. Each entry has the fields type, at (unix
// ms), ref (the job id, hold id or pool name the event is about) and, for
// some types, more (pool.low: available, threshold; period.refreshed:
// period_start, period_end, allocated).
func OutboxKey(prefix, account string) string { return prefix + ":{a:" + account + "}:outbox" }

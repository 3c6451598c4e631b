package ledger

import (
	"strconv"

	"github.com/creditrun/creditrun/events"
)

// keys builds every Redis key of the ledger. An account's keys carry the hash
// tag {a:<account>}, so that every script runs on one cluster slot; the few
// global keys are touched outside scripts only.
type keys struct {
	prefix string
}

func (k keys) tag(account string) string { return k.prefix + ":{a:" + account + "}" }

// account is a hash: created_at (unix ms) and seq, the journal's counter.
func (k keys) account(account string) string { return k.tag(account) + ":account" }

// pools is a set of the account's pool names.
func (k keys) pools(account string) string { return k.tag(account) + ":pools" }

// pool is a hash of one pool's config, counts and period.
func (k keys) pool(account, pool string) string { return k.tag(account) + ":pool:" + pool }

// reservation is a hash: one job's reservation and, later, its settlement.
func (k keys) reservation(account, job string) string { return k.tag(account) + ":res:" + job }

// pending is a sorted set of the account's open reservations by creation time
// (unix ms), for the reaper.
func (k keys) pending(account string) string { return k.tag(account) + ":pending" }

// charges is a sorted set of jobs whose charge may have to be refunded, by
// when they were added (unix ms): every charge posted at acceptance, until
// the reaper has seen its job recorded, and every settled job that is being
// abandoned, until its refund is done. The reaper finishes what a crash
// left half done (OldCharges, Refund).
func (k keys) charges(account string) string { return k.tag(account) + ":charges" }

// jobRecords is a set of the record ids one dedup job charged that the pool
// had not charged before, kept as long as its reservation, so that a refund
// can give them back.
func (k keys) jobRecords(account, job string) string { return k.tag(account) + ":charged:" + job }

// op is a string that marks one keyed allocation change (a top-up or an
// adjustment) as applied, so that a retry of it changes nothing more. It
// holds the change's type, pool and amount, and expires after RetainEnded.
func (k keys) op(account, key string) string { return k.tag(account) + ":op:" + key }

// journal is the account's stream of changes.
func (k keys) journal(account string) string { return k.tag(account) + ":journal" }

// checkpoints is a sorted set of the ids of the journal's checkpoint entries
// by their at (unix ms), for the trim to find the newest checkpoint before
// its cut. It may name an entry already trimmed away, which trims nothing.
func (k keys) checkpoints(account string) string { return k.tag(account) + ":checkpoints" }

// dedup is a set of the record ids charged in one pool.
func (k keys) dedup(account, pool string) string { return k.tag(account) + ":dedup:" + pool }

// stage is a set of the record ids one attempt of a dedup job delivered so
// far, staged for its settle (StageRecords).
func (k keys) stage(account, job string, attempt int) string {
	return k.tag(account) + ":stage:" + job + ":" + strconv.Itoa(attempt)
}

// hold is a hash: one overage hold.
func (k keys) hold(account, hold string) string { return k.tag(account) + ":hold:" + hold }

// holds is a sorted set of the account's holds by creation time (unix ms).
func (k keys) holds(account string) string { return k.tag(account) + ":holds" }

// accounts is a global set of every account id that has a pool.
func (k keys) accounts() string { return k.prefix + ":accounts" }

// holdIndex is a global sorted set of every hold id by creation time.
func (k keys) holdIndex() string { return k.prefix + ":holds" }

// holdsIn is a global sorted set of the hold ids of one status (unpaid, paid,
// waived) by creation time. It may lag behind a hold's status, never hide
// it for long: readers check each hold's status, and ReindexHolds heals it.
func (k keys) holdsIn(status string) string { return k.prefix + ":holds:" + status }

// holdAccounts is a global hash from hold id to account id.
func (k keys) holdAccounts() string { return k.prefix + ":holds:account" }

// periods is a global sorted set of the accounts that have a pool of this
// name, scored by the pool's period_end (unix ms), for the refresh sweep.
func (k keys) periods(pool string) string { return k.prefix + ":periods:" + pool }

// grants is a hash of every grant of the account: grant id to a JSON object
// (common.lua says its fields).
func (k keys) grants(account string) string { return k.tag(account) + ":grants" }

// activeGrants is a sorted set of the ids of a pool's active grants, by
// creation time (unix ms).
func (k keys) activeGrants(account, pool string) string {
	return k.tag(account) + ":grants:active:" + pool
}

// grantExpiries is a global sorted set of the accounts whose pool of this
// name has an active grant that expires, scored by the earliest such expiry
// (unix ms), for the sweep that expires grants on time. Like the period
// index, it may lag behind the pool, never run ahead of it.
func (k keys) grantExpiries(pool string) string { return k.prefix + ":grant-expiries:" + pool }

// outbox is the account's stream of events for webhooks (package events).
func (k keys) outbox(account string) string { return events.OutboxKey(k.prefix, account) }

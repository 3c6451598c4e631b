package jobstore

import "github.com/creditrun/creditrun/events"

// keys builds every Redis key of the store. Each key of an account carries the
// hash tag {a:<account>}, so that every script and transaction on one
// account's keys runs on one cluster slot.
type keys struct {
	prefix string
}

func (k keys) tag(account string) string { return k.prefix + ":{a:" + account + "}" }

// job is a string: the job as JSON, without a search's inline records.
func (k keys) job(account, id string) string { return k.tag(account) + ":job:" + id }

// records is a string: a search's inline records as one JSON array, kept
// apart from the job so that a list of jobs never reads them. A job written
// before they were kept apart has them inside its JSON instead, until it is
// next updated.
func (k keys) records(account, id string) string { return k.job(account, id) + ":records" }

// items is a string: an enrichment's items as one JSON array, written once.
func (k keys) items(account, id string) string { return k.job(account, id) + ":items" }

// progress is a hash of a running job's progress: done and total.
func (k keys) progress(account, id string) string { return k.job(account, id) + ":progress" }

// jobs is a sorted set of the account's job ids by creation time (unix ms).
func (k keys) jobs(account string) string { return k.tag(account) + ":jobs" }

// results is a sorted set of the account's jobs whose result files are
// kept, by the time the job finished (unix ms), for their expiry.
func (k keys) results(account string) string { return k.tag(account) + ":results" }

// active is a sorted set of the account's jobs that have not ended, by
// creation time (unix ms), for the reaper.
func (k keys) active(account string) string { return k.tag(account) + ":active" }

// profile is a string: the account as JSON.
func (k keys) profile(account string) string { return k.tag(account) + ":profile" }

// outbox is the account's stream of events for webhooks (package events).
func (k keys) outbox(account string) string { return events.OutboxKey(k.prefix, account) }

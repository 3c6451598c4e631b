// Package scheduler runs creditrun's periodic work. So far it holds the
// allocation refresh: a sweep that finds, per pool name, the accounts whose
// period has ended (the ledger's period index) and starts each one's current
// period through the ledger, in pipelined batches. Every effect is idempotent
// per period, so any number of schedulers may sweep at once, and a sweep after
// downtime catches up to the current period once. Time is a parameter: the
// cron entries that call Sweep, and their clock, live with the caller.
package scheduler

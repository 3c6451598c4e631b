// Package scheduler runs creditrun's periodic work as cron entries:
//   - the allocation refresh: a sweep that finds, per pool name, the accounts
//     whose period has ended (the ledger's period index) and starts each one's
//     current period through the ledger, in pipelined batches; a sweep after
//     downtime catches up to the current period once;
//   - the reaper: it voids reservations stranded by a task that asynq archived
//     or lost, or by a job past its deadline, and fails their jobs with a
//     sentence saying why;
//   - the expiry: it deletes result files past the result retention and
//     marks their jobs' results expired.
//
// Every effect is idempotent, so any number of schedulers may run the same
// entries at once. Time is a parameter: each entry runs as of an injected
// clock's now, and tests live months in milliseconds.
package scheduler

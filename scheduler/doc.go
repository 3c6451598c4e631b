// Package scheduler runs creditrun's periodic work as cron entries:
//   - the allocation refresh: a sweep that finds, per pool name, the accounts
//     whose period has ended (the ledger's period index) and starts each one's
//     current period through the ledger, in pipelined batches; a sweep after
//     downtime catches up to the current period once;
//   - the reaper: it ends jobs stranded by a task that asynq archived or
//     lost, or past their deadline, with a sentence saying why, and gives
//     back what they hold; and it voids reservations whose job has ended or
//     was never recorded;
//   - the expiry: it deletes result files past the result retention and
//     marks their jobs' results expired.
//
// Every effect is idempotent, so any number of schedulers may run the same
// entries at once. Time is a parameter: each entry runs as of an injected
// clock's now, and tests live months in milliseconds.
package scheduler

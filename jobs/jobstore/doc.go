// Package jobstore keeps job and account records in Redis: it is the
// implementation of jobs.Store and jobs.Accounts that cmd wires in, so that
// the core in package jobs stays free of infrastructure.
//
// Every key of an account carries the hash tag {a:<account>}, as the ledger's
// do, so that each script and transaction runs on one Redis Cluster slot. A
// job is one JSON string; its progress is a small hash beside it, written
// often and cheaply and merged in on reads; an enrichment's items are a JSON
// string written once. Update is a compare-and-set: a script writes the new
// record only if the stored one is still the one read. A job that ends keeps
// its keys for Options.RetainEnded, then Redis expires them, and List drops
// their ids from the account's index when it meets them. The same scripts
// keep two more indexes per account exact: the jobs that have not ended
// (the reaper's), and the jobs that succeeded with result files still kept,
// by finish time (the expiry's).
package jobstore

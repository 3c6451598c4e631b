// Package ledger is the only code that changes credit state. It keeps every
// account's pools, reservations, holds, dedup sets and journal in Redis, and
// changes them only through Lua scripts (scripts/*.lua), one per operation,
// each atomic and each appending its journal entries in the same script.
//
// Every key of an account carries the hash tag {a:<account>} and every key a
// script touches is passed in KEYS, so the ledger runs unchanged on a single
// Redis, on Redis Cluster and on miniredis. The math the scripts carry out is
// package credit's, in plain Go; the tests check one against the other.
package ledger

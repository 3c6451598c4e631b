// Package ledgertest is the one suite that every Redis target of the ledger
// must pass: a real redis-server, a Redis Cluster and miniredis run the same
// cases (river's riverdrivertest is the model). Each case isolates itself by
// key prefix, so cases run in parallel on one server; each checks the
// invariants of DESIGN.md after it changes credit state.
package ledgertest

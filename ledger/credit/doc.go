// Package credit is creditrun's credit model in plain Go: the counts of a pool,
// the shortfall policies, the split of a settlement into prepaid, overage and
// released credits, the choice of enrichment items under dedup, the journal's
// entries and their replay.
//
// It imports no infrastructure. The ledger's Lua scripts carry out exactly this
// math inside Redis, and the ledger's tests check the scripts against it; the
// jobs package uses its types without pulling in Redis.
package credit

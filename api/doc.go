// Package api is creditrun's HTTP API: the outside of the product that
// clients, operators and finance rely on (API.md in the shared docs).
//
// It exists to keep the edge concerns in one place, away from the core: who
// is calling (hashed API keys with roles), how fast (a GCRA limit per key),
// whether a POST was seen before (Idempotency-Key), how a request body is
// decoded (strictly, with the JSON path of a bad field), and how a domain
// error becomes a status and a code (one table, errors.go). The work itself
// is the jobs service's and the ledger's.
//
// Decisions where API.md is silent are written in openapi.yaml, which the
// server answers as GET /openapi.json.
package api

// Package storage keeps the result files of jobs behind one interface,
// [Backend], so that workers stream results without knowing where they go and
// the API hands out links without knowing who serves them. Two backends
// implement it: S3 (and anything S3-compatible), for a cluster, and [Local],
// a directory with HMAC-signed, expiring links that the API serves, for the
// embedded mode.
//
// Every object carries the tag [HoldTag], which mirrors the overage hold of
// its job, so that a bucket policy (or Local's handler) can refuse reads of
// unpaid results to any credential, not only through the API.
package storage

//go:build !unix

package dataset

import "context"

// lockFile does not lock where there is no flock: processes that open one
// data file at once may each build its index, and the last rename wins.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }

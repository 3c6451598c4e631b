//go:build !unix

package dataset

// lockFile does not lock where there is no flock: processes that open one
// data file at once may each build its index, and the last rename wins.
func lockFile(string) (func(), error) { return func() {}, nil }

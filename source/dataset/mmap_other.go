//go:build !unix

package dataset

import "os"

// mapFile reads the file at path into memory, 8-byte aligned, where there is
// no mmap.
func mapFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	words := make([]uint64, (len(b)+7)/8)
	out := bytesOf(words)[:len(b)]
	copy(out, b)
	return out, nil
}

// unmap lets the garbage collector have the copy.
func unmap([]byte) error { return nil }

//go:build !unix

package dataset

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the first size bytes of f into memory, 8-byte aligned, where
// there is no mmap.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("map %s: %w: size %d", f.Name(), errBadIndex, size)
	}
	b := bytesOf(make([]uint64, (size+7)/8))[:size]
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, err
	}
	return b, nil
}

// unmap lets the garbage collector have the copy.
func unmap([]byte) error { return nil }

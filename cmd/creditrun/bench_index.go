package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/creditrun/creditrun/source/dataset"
)

// benchIndex gives the bench's worker processes a dataset index built
// beforehand, as a worker finds it when an earlier one on its machine built
// it: the figures of their memory are then of serving, not of building the
// index (which the README measures apart).
type benchIndex struct {
	dataset string // the dataset directory
	dir     string // where the index is built, once

	once sync.Once
	err  error
}

// give builds the index once, then links its files into the index directory
// of a worker whose data dir is dataDir.
func (b *benchIndex) give(ctx context.Context, dataDir string) error {
	b.once.Do(func() {
		ds, err := dataset.OpenWith(ctx, b.dataset, dataset.Options{IndexDir: b.dir})
		if err != nil {
			b.err = fmt.Errorf("build the dataset index: %w", err)
			return
		}
		b.err = ds.Close()
	})
	if b.err != nil {
		return b.err
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	to := indexDir(dataDir)
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Link(filepath.Join(b.dir, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return fmt.Errorf("give the dataset index: %w", err)
		}
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/creditrun/creditrun/source/dataset"
)

// sampleDataset is the size of the dataset `creditrun dev` generates when no
// dataset is configured: small enough to load in a moment.
var sampleDataset = dataset.GenerateConfig{People: 20_000, Properties: 10_000, Businesses: 10_000, Products: 10_000, Seed: 1}

// ensureDataset returns the dataset directory to open: the configured one,
// or a sample generated once into dataDir/dataset.
func ensureDataset(ctx context.Context, configured, dataDir string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	dir := filepath.Join(dataDir, "dataset")
	if _, err := os.Stat(filepath.Join(dir, "products.jsonl")); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	// Generate beside it and rename, so that a stopped run leaves no half
	// dataset behind.
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	cfg := sampleDataset
	cfg.Dir = tmp
	if _, err := dataset.Generate(ctx, cfg); err != nil {
		return "", fmt.Errorf("generate the sample dataset: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/creditrun/creditrun/source/dataset"
)

// runDataset runs `creditrun dataset generate --dir D --people N --properties N
// --businesses N --products N [--seed S]`.
func runDataset(ctx context.Context, args []string) error {
	return datasetCommand(ctx, args, os.Stdout, os.Stderr)
}

func datasetCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "usage: creditrun dataset generate --dir D --people N --properties N --businesses N --products N [--seed S]")
		if len(args) == 0 {
			return errors.New("dataset: missing subcommand")
		}
		return fmt.Errorf("dataset: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("dataset generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg dataset.GenerateConfig
	fs.StringVar(&cfg.Dir, "dir", "", "the directory to write people.jsonl, properties.jsonl, businesses.jsonl and products.jsonl into (required)")
	fs.IntVar(&cfg.People, "people", 0, "people records")
	fs.IntVar(&cfg.Properties, "properties", 0, "property records")
	fs.IntVar(&cfg.Businesses, "businesses", 0, "business records")
	fs.IntVar(&cfg.Products, "products", 0, "product records")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "the seed: the same flags write the same bytes")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("dataset generate: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dataset generate: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Dir == "" {
		return errors.New("dataset generate: --dir is required")
	}
	start := time.Now()
	files, err := dataset.Generate(ctx, cfg)
	if err != nil {
		return fmt.Errorf("dataset generate: %w", err)
	}
	elapsed := time.Since(start)
	total := 0
	var bytes int64
	for _, f := range files {
		fmt.Fprintf(stdout, "%-12s %10d records %12d bytes  %s\n", f.DataType, f.Records, f.Bytes, f.Path)
		total += f.Records
		bytes += f.Bytes
	}
	fmt.Fprintf(stdout, "wrote %d records (%.1f MB) in %s: %.0f records/s\n",
		total, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	return nil
}

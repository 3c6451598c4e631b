package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/creditrun/creditrun/client"
)

// resultsUsage is the help of `creditrun results`.
const resultsUsage = `usage:
  creditrun results ID --out DIR [--json]

Fetches every result file of a succeeded download or enrichment into DIR
(made if missing), each under its own name (1.csv, 2.csv, …), with a bar of
bytes on a terminal and a line per file elsewhere. A cut fetch resumes
where it stopped when run again. A search has no files: its records are
written to DIR/records.json. Exits 5 while the job's overage is unpaid.

` + customerAPIHelp

// runResults runs `creditrun results ID --out DIR`.
func runResults(ctx context.Context, args []string) error {
	return osCLI().results(ctx, args)
}

func (c *cli) results(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(c.stderr, resultsUsage)
		return nil
	}
	var af apiFlags
	fs := c.flagSet("results", resultsUsage, &af)
	out := fs.String("out", "", "the directory to write the files to (required)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	id, err := oneID("results", pos)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError(errors.New("results: --out DIR is required"))
	}
	cl, err := c.client(af)
	if err != nil {
		return err
	}
	p := &fileProgress{w: c.stderr, tty: c.tty}
	files, err := cl.DownloadResults(ctx, id, *out, client.WithDownloadProgress(p.update))
	p.finish()
	if errors.Is(err, client.ErrNoResultFiles) {
		return c.searchRecords(ctx, cl, id, *out, af.asJSON)
	}
	if err != nil {
		return apiExit("results "+id, err)
	}
	if af.asJSON {
		return printJSON(c.stdout, map[string]any{"files": files})
	}
	for _, f := range files {
		fmt.Fprintf(c.stdout, "%s  %d records, %d bytes\n", f.Path, f.Result.Records, f.Result.Bytes)
	}
	fmt.Fprintf(c.stdout, "%d file(s) in %s\n", len(files), *out)
	return nil
}

// searchRecords writes a search's records to dir/records.json.
func (c *cli) searchRecords(ctx context.Context, cl *client.Client, id, dir string, asJSON bool) error {
	res, err := cl.GetResults(ctx, id)
	if err != nil {
		return apiExit("results "+id, err)
	}
	if len(res.Records) == 0 {
		return fmt.Errorf("results %s: the result files were deleted past their retention", id)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results %s: %w", id, err)
	}
	path := filepath.Join(dir, "records.json")
	if err := os.WriteFile(path, append(res.Records, '\n'), 0o644); err != nil {
		return fmt.Errorf("results %s: %w", id, err)
	}
	if asJSON {
		return printJSON(c.stdout, map[string]any{"files": []map[string]any{{"Path": path}}})
	}
	fmt.Fprintf(c.stdout, "%s  the search's records\n", path)
	return nil
}

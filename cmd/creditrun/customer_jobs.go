package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/creditrun/creditrun/client"
)

// jobsUsage is the help of `creditrun jobs`.
const jobsUsage = `usage:
  creditrun jobs list [--status S] [--kind K] [--limit N] [--json]
  creditrun jobs get ID [--json]
  creditrun jobs wait ID [--json]
  creditrun jobs cancel ID [--json]

list shows the account's jobs, newest first (at most --limit, default 50;
0 for all). wait polls the job until it ends, with a progress bar on a
terminal and a line per change of status elsewhere; it exits 4 when the
job failed or was canceled. cancel cancels a queued or running job.

` + customerAPIHelp

// runJobs runs `creditrun jobs list|get|wait|cancel`.
func runJobs(ctx context.Context, args []string) error {
	return osCLI().jobs(ctx, args)
}

func (c *cli) jobs(ctx context.Context, args []string) error {
	sub, args, err := c.subcommand("jobs", jobsUsage, args, "list", "get", "wait", "cancel")
	if sub == "" {
		return err
	}
	var af apiFlags
	fs := c.flagSet("jobs "+sub, jobsUsage, &af)
	var status, kind string
	var limit int
	if sub == "list" {
		fs.StringVar(&status, "status", "", "queued, running, succeeded, failed or canceled; all when absent")
		fs.StringVar(&kind, "kind", "", "search, download or enrichment; all when absent")
		fs.IntVar(&limit, "limit", 50, "the most jobs to show; 0 for all")
	}
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	if sub == "list" {
		if len(pos) > 0 {
			return usageError(fmt.Errorf("jobs list: unexpected argument %q", pos[0]))
		}
		if limit < 0 {
			return usageError(fmt.Errorf("jobs list: --limit %d: want 0 (all) or more", limit))
		}
	}
	var id string
	if sub != "list" {
		if id, err = oneID("jobs "+sub, pos); err != nil {
			return err
		}
	}
	cl, err := c.client(af)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return c.listJobs(ctx, cl, af.asJSON, client.JobsQuery{Status: client.Status(status), Kind: client.Kind(kind)}, limit)
	case "get":
		j, err := cl.GetJob(ctx, id)
		if err != nil {
			return apiExit("jobs get "+id, err)
		}
		return c.printJob(j, nil, af.asJSON)
	case "cancel":
		j, err := cl.CancelJob(ctx, id)
		if err != nil {
			return apiExit("jobs cancel "+id, err)
		}
		return c.printJob(j, nil, af.asJSON)
	default:
		return c.waitAndPrint(ctx, cl, id, nil, af.asJSON)
	}
}

// listJobs prints up to limit jobs of q (0: all), newest first.
func (c *cli) listJobs(ctx context.Context, cl *client.Client, asJSON bool, q client.JobsQuery, limit int) error {
	if limit > 0 {
		q.Limit = min(limit, 500)
	}
	list := []client.Job{}
	for j, err := range cl.AllJobs(ctx, q) {
		if err != nil {
			return apiExit("jobs list", err)
		}
		list = append(list, j)
		if limit > 0 && len(list) == limit {
			break
		}
	}
	if asJSON {
		return printJSON(c.stdout, map[string]any{"jobs": list})
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tDATA TYPE\tSTATUS\tRECORDS\tRESERVED\tCOST\tPROGRESS\tCREATED")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d/%d\t%s\n", j.ID, j.Kind, j.DataType, j.Status,
			j.NumRecords, j.CreditsReserved, j.TotalCost, j.Progress.Done, j.Progress.Total, stamp(&j.CreatedAt))
	}
	_ = tw.Flush()
	fmt.Fprintf(c.stdout, "%d job(s)\n", len(list))
	return nil
}

// waitAndPrint waits for job id to end, showing its progress on stderr,
// prints it, and returns an error with exit status 4 when it failed or was
// canceled. meta, when not nil, is what its submit reserved.
func (c *cli) waitAndPrint(ctx context.Context, cl *client.Client, id string, meta *client.Meta, asJSON bool) error {
	p := newJobProgress(c.stderr, c.tty)
	j, err := cl.WaitJob(ctx, id, client.WithProgress(p.update))
	p.finish()
	if err != nil {
		return apiExit("wait for job "+id, err)
	}
	if err := c.printJob(j, meta, asJSON); err != nil {
		return err
	}
	return jobEndError(j)
}

// jobEndError is an error with exit status 4 for a failed or canceled
// job, nil for any other.
func jobEndError(j *client.Job) error {
	switch j.Status {
	case client.StatusFailed:
		return &exitError{code: exitJobEnded, err: fmt.Errorf("job %s failed: %s", j.ID, orDash(j.Error))}
	case client.StatusCanceled:
		return &exitError{code: exitJobEnded, err: fmt.Errorf("job %s was canceled", j.ID)}
	}
	return nil
}

// printJob prints j as GET /v1/jobs/{id} shows it (asJSON), or a short
// summary; meta, when not nil, adds what its submit reserved.
func (c *cli) printJob(j *client.Job, meta *client.Meta, asJSON bool) error {
	if asJSON {
		return printJSON(c.stdout, j)
	}
	writeJobSummary(c.stdout, j, meta)
	return nil
}

// writeJobSummary writes a few lines about j: id, kind, status, credits,
// and why it was partial, failed or held.
func writeJobSummary(w io.Writer, j *client.Job, meta *client.Meta) {
	what := string(j.Kind) + " of " + j.DataType
	if j.Query != "" {
		what += " for " + fmt.Sprintf("%q", j.Query)
	}
	if len(j.MatchOn) > 0 {
		what += " matching on " + strings.Join(j.MatchOn, ",")
	}
	fmt.Fprintf(w, "job %s: %s\n", j.ID, what)
	fmt.Fprintf(w, "  status:           %s\n", j.Status)
	fmt.Fprintf(w, "  records:          %d\n", j.NumRecords)
	fmt.Fprintf(w, "  credits reserved: %d\n", j.CreditsReserved)
	if meta != nil {
		fmt.Fprintf(w, "  credits left:     %d\n", meta.CreditsRemaining)
		if meta.OverageReserved > 0 {
			fmt.Fprintf(w, "  overage reserved: %d\n", meta.OverageReserved)
		}
		if meta.Partial {
			fmt.Fprintf(w, "  partial:          %s (%d of %d)\n", orDash(meta.PartialReason), meta.Processed, meta.Requested)
		}
		if meta.SkippedDuplicates > 0 {
			fmt.Fprintf(w, "  duplicates:       %d skipped\n", meta.SkippedDuplicates)
		}
	}
	if j.Status.Ended() {
		fmt.Fprintf(w, "  found:            %d\n", j.NumFound)
		fmt.Fprintf(w, "  cost:             %d (released %d, overage %d)\n", j.TotalCost, j.CreditsReleased, j.Overage)
	} else if j.Status == client.StatusRunning {
		fmt.Fprintf(w, "  progress:         %d/%d\n", j.Progress.Done, j.Progress.Total)
	}
	if j.Error != "" {
		fmt.Fprintf(w, "  error:            %s\n", j.Error)
	}
	if j.Hold != nil {
		fmt.Fprintf(w, "  overage hold:     %s, %s, %d credits, %s due\n", j.Hold.ID, j.Hold.Status, j.Hold.OverageCredits, money(j.Hold.AmountDueCents))
	}
	for i, r := range j.Results {
		fmt.Fprintf(w, "  result %d:         %d records, %d bytes, %s\n", i+1, r.Records, r.Bytes, r.Format)
	}
	if len(j.Records) > 0 && string(j.Records) != "null" {
		fmt.Fprintf(w, "  search records:   shown by `creditrun jobs get %s --json`\n", j.ID)
	}
}

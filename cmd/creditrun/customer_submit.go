package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/creditrun/creditrun/client"
)

// submitUsage is the help of `creditrun submit`.
const submitUsage = `usage:
  creditrun submit search --data-type T --query Q --num-records N [--on-insufficient P] [--quote | --dry-run] [--wait] [--json]
  creditrun submit download --data-type T --query Q --num-records N [--format F] [--on-insufficient P] [--quote | --dry-run] [--wait] [--json]
  creditrun submit enrichment --data-type T --match-on a,b --items FILE [--format F] [--on-insufficient P] [--quote | --dry-run] [--wait] [--json]

  --data-type T        people, properties, businesses or products
  --query Q            the search query, such as 'state:CA' or '*'
  --num-records N      how many records (a search at most 1,000)
  --format F           csv (default), json or jsonl: the result files
  --on-insufficient P  reject, partial or overage; the plan's when absent
  --match-on a,b       the fields an enrichment matches on; id matches by record id
  --items FILE         the enrichment's items: a CSV file whose header row names
                       the fields, or a JSONL file of one object a line; each
                       item has a tracking_id
  --idempotency-key K  the Idempotency-Key; a random one when absent
  --wait               wait for the job to end (a progress bar on a terminal);
                       exit 4 when it failed or was canceled
  --quote              ask POST /v1/quotes first and show what the job would
                       cost (on stderr); then submit, unless the quote's
                       outcome is reject: then submit nothing and exit 3
  --dry-run            show the quote (on stdout; --json: as the API answers
                       it) and submit nothing; exit 3 when it is reject

` + customerAPIHelp

// runSubmit runs `creditrun submit search|download|enrichment`.
func runSubmit(ctx context.Context, args []string) error {
	return osCLI().submit(ctx, args)
}

func (c *cli) submit(ctx context.Context, args []string) error {
	kind, args, err := c.subcommand("submit", submitUsage, args, "search", "download", "enrichment")
	if kind == "" {
		return err
	}
	var af apiFlags
	fs := c.flagSet("submit "+kind, submitUsage, &af)
	var (
		dataType, query, format, policy, matchOn, itemsFile, idemKey string
		numRecords                                                   int64
		wait, quote, dryRun                                          bool
	)
	fs.StringVar(&dataType, "data-type", "", "people, properties, businesses or products (required)")
	fs.StringVar(&policy, "on-insufficient", "", "reject, partial or overage; the plan's when absent")
	fs.StringVar(&idemKey, "idempotency-key", "", "the Idempotency-Key; random when absent")
	fs.BoolVar(&wait, "wait", false, "wait for the job to end")
	fs.BoolVar(&quote, "quote", false, "show the quote first; submit unless it is reject")
	fs.BoolVar(&dryRun, "dry-run", false, "show the quote and submit nothing")
	if kind != "enrichment" {
		fs.StringVar(&query, "query", "", "the search query (required)")
		fs.Int64Var(&numRecords, "num-records", 0, "how many records (required)")
	} else {
		fs.StringVar(&matchOn, "match-on", "", "comma-separated fields to match on (required)")
		fs.StringVar(&itemsFile, "items", "", "a CSV or JSONL file of items (required)")
	}
	if kind != "search" {
		fs.StringVar(&format, "format", "", "csv, json or jsonl (default csv)")
	}
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	what := "submit " + kind
	if len(pos) > 0 {
		return usageError(fmt.Errorf("%s: unexpected argument %q", what, pos[0]))
	}
	if dataType == "" {
		return usageError(fmt.Errorf("%s: --data-type is required", what))
	}
	switch policy {
	case "", "reject", "partial", "overage":
	default:
		return usageError(fmt.Errorf("%s: --on-insufficient %q: want reject, partial or overage", what, policy))
	}
	switch format {
	case "", "csv", "json", "jsonl":
	default:
		return usageError(fmt.Errorf("%s: --format %q: want csv, json or jsonl", what, format))
	}
	var items []map[string]any
	var fields []string
	if kind == "enrichment" {
		for f := range strings.SplitSeq(matchOn, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			return usageError(fmt.Errorf("%s: --match-on is required: the fields to match on, such as id or name,city", what))
		}
		if itemsFile == "" {
			return usageError(fmt.Errorf("%s: --items is required: a CSV or JSONL file of items", what))
		}
		if items, err = readItems(itemsFile); err != nil {
			return usageError(fmt.Errorf("%s: %w", what, err))
		}
	} else {
		if query == "" {
			return usageError(fmt.Errorf("%s: --query is required", what))
		}
		if numRecords <= 0 {
			return usageError(fmt.Errorf("%s: --num-records is required: 1 or more", what))
		}
	}
	cl, err := c.client(af)
	if err != nil {
		return err
	}

	search := client.SearchRequest{DataType: dataType, Query: query, NumRecords: numRecords,
		OnInsufficient: client.Policy(policy), IdempotencyKey: idemKey}
	download := client.DownloadRequest{DataType: dataType, Query: query, NumRecords: numRecords,
		Format: client.Format(format), OnInsufficient: client.Policy(policy), IdempotencyKey: idemKey}
	enrichment := client.EnrichmentRequest{DataType: dataType, MatchOn: fields, Items: items,
		Format: client.Format(format), OnInsufficient: client.Policy(policy), IdempotencyKey: idemKey}

	if quote || dryRun {
		qr := client.SearchQuote(search)
		switch kind {
		case "download":
			qr = client.DownloadQuote(download)
		case "enrichment":
			qr = client.EnrichmentQuote(enrichment)
		}
		q, err := cl.Quote(ctx, qr)
		if err != nil {
			return apiExit("quote "+kind, err)
		}
		switch {
		case dryRun && af.asJSON:
			if err := printJSON(c.stdout, q); err != nil {
				return err
			}
		case dryRun:
			writeQuote(c.stdout, q)
		default:
			writeQuote(c.stderr, q)
		}
		if q.Outcome == client.OutcomeReject {
			return &exitError{code: exitInsufficient, err: fmt.Errorf("%s: the quote is reject: %d credits required, %d available; nothing was submitted",
				what, q.CreditsRequired, q.CreditsAvailable)}
		}
		if dryRun {
			return nil
		}
	}

	var sub *client.Submitted
	switch kind {
	case "search":
		sub, err = cl.Search(ctx, search)
	case "download":
		sub, err = cl.Download(ctx, download)
	default:
		sub, err = cl.Enrich(ctx, enrichment)
	}
	if err != nil {
		return apiExit(what, err)
	}
	if sub.Job.ID == "" {
		return errors.New(what + ": the API answered no job")
	}
	if !wait {
		return c.printJob(&sub.Job, &sub.Meta, af.asJSON)
	}
	return c.waitAndPrint(ctx, cl, sub.Job.ID, &sub.Meta, af.asJSON)
}

// writeQuote writes a quote as a few lines: what the job would take and
// cost, and what a submit would do.
func writeQuote(w io.Writer, q *client.Quote) {
	fmt.Fprintf(w, "quote: %s of %s\n", q.Kind, q.DataType)
	fmt.Fprintf(w, "  requested:         %d\n", q.Requested)
	if q.NumFound != nil {
		fmt.Fprintf(w, "  found:             %d\n", *q.NumFound)
	}
	if q.Matched != nil {
		fmt.Fprintf(w, "  matched:           %d\n", *q.Matched)
	}
	if q.SkippedDuplicates > 0 {
		fmt.Fprintf(w, "  duplicates:        %d free\n", q.SkippedDuplicates)
	}
	fmt.Fprintf(w, "  credits required:  %d\n", q.CreditsRequired)
	fmt.Fprintf(w, "  credits available: %d\n", q.CreditsAvailable)
	fmt.Fprintf(w, "  expected cost:     %d\n", q.ExpectedCost)
	if q.OverageCredits > 0 {
		fmt.Fprintf(w, "  overage:           %d credits, %s due\n", q.OverageCredits, money(q.AmountDueCents))
	}
	outcome := string(q.Outcome)
	if q.PartialReason != "" {
		outcome += " (" + q.PartialReason + ")"
	}
	fmt.Fprintf(w, "  outcome:           %s\n", outcome)
}

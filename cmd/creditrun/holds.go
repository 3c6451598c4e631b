package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creditrun/creditrun/client"
)

// holdsUsage is the help of `creditrun holds`.
const holdsUsage = `usage:
  creditrun holds list [--status unpaid|paid|waived] [--account A] [--json]
  creditrun holds pay ID --ref R [--json]
  creditrun holds waive ID --reason R [--json]

Every subcommand talks to the HTTP API with a finance or admin key:
  --url U   the API's base URL (env CREDITRUN_URL; default http://127.0.0.1:8080)
  --key K   the API key (env CREDITRUN_KEY; required)
Flags may come before or after ID.`

// defaultAPIURL is the API's address when neither --url nor CREDITRUN_URL
// says otherwise: CREDITRUN_HTTP_ADDR's default.
const defaultAPIURL = "http://127.0.0.1:8080"

// runHolds runs `creditrun holds list|pay|waive`, finance over the HTTP API.
func runHolds(ctx context.Context, args []string) error {
	return holdsCommand(ctx, args, os.Stdout, os.Stderr, os.Getenv)
}

// holdsCommand is runHolds with its outputs and environment given, for
// tests. It returns an error, with the API's message when the API refused,
// for the caller to print and exit non-zero.
func holdsCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, holdsUsage)
		if len(args) == 0 {
			return errors.New("holds: missing subcommand: list, pay or waive")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("holds "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, holdsUsage) }
	base := fs.String("url", "", "the API's base URL (env CREDITRUN_URL)")
	key := fs.String("key", "", "a finance or admin API key (env CREDITRUN_KEY)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	var status, account, ref, reason string
	switch sub {
	case "list":
		fs.StringVar(&status, "status", "", "unpaid, paid or waived; all when absent")
		fs.StringVar(&account, "account", "", "one account's holds")
	case "pay":
		fs.StringVar(&ref, "ref", "", "the payment reference, such as an invoice number (required)")
	case "waive":
		fs.StringVar(&reason, "reason", "", "why the overage is forgiven (required)")
	default:
		fmt.Fprintln(stderr, holdsUsage)
		return fmt.Errorf("holds: unknown subcommand %q: list, pay or waive", sub)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("holds %s: %w", sub, err)
	}
	c, err := newHoldsClient(firstNonEmpty(*base, getenv("CREDITRUN_URL"), defaultAPIURL), firstNonEmpty(*key, getenv("CREDITRUN_KEY")))
	if err != nil {
		return fmt.Errorf("holds %s: %w", sub, err)
	}

	if sub == "list" {
		if len(pos) > 0 {
			return fmt.Errorf("holds list: unexpected argument %q", pos[0])
		}
		list, err := c.list(ctx, status, account)
		if err != nil {
			return fmt.Errorf("holds list: %w", err)
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		printHolds(stdout, list.Holds)
		fmt.Fprintln(stdout, holdsSummary(list))
		return nil
	}

	if len(pos) != 1 {
		return fmt.Errorf("holds %s: want exactly one hold ID, got %d arguments", sub, len(pos))
	}
	var h cliHold
	if sub == "pay" {
		if strings.TrimSpace(ref) == "" {
			return errors.New("holds pay: --ref is required: the payment reference")
		}
		h, err = c.pay(ctx, pos[0], ref)
	} else {
		if strings.TrimSpace(reason) == "" {
			return errors.New("holds waive: --reason is required")
		}
		h, err = c.waive(ctx, pos[0], reason)
	}
	if err != nil {
		return fmt.Errorf("holds %s %s: %w", sub, pos[0], err)
	}
	if *asJSON {
		return printJSON(stdout, h)
	}
	printHolds(stdout, []cliHold{h})
	fmt.Fprintf(stdout, "hold %s is %s; the results of job %s are released.\n", h.ID, h.Status, h.JobID)
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// cliHold is a hold as the API answers it.
type cliHold struct {
	ID             string     `json:"id"`
	AccountID      string     `json:"account_id"`
	JobID          string     `json:"job_id"`
	Pool           string     `json:"pool"`
	OverageCredits int64      `json:"overage_credits"`
	AmountDueCents int64      `json:"amount_due_cents"`
	Status         string     `json:"status"`
	CreatedAt      time.Time  `json:"created_at"`
	PaidAt         *time.Time `json:"paid_at"`
	PaymentRef     *string    `json:"payment_ref"`
	WaiveReason    string     `json:"waive_reason,omitempty"`
}

// holdList is every hold a listing selects, from all its pages.
type holdList struct {
	Holds         []cliHold `json:"holds"`
	TotalDueCents int64     `json:"total_due_cents"`
}

// holdsClient is the Go client of the API with a finance or admin key,
// and the base URL, which errors of the connection name.
type holdsClient struct {
	base string
	c    *client.Client
}

func newHoldsClient(base, key string) (*holdsClient, error) {
	if key == "" {
		return nil, errors.New("an API key is required: --key or CREDITRUN_KEY (a finance or admin key)")
	}
	c, err := client.New(base, key, client.WithUserAgent("creditrun-cli/1"))
	if err != nil {
		return nil, fmt.Errorf("--url %q is not an http(s) URL", base)
	}
	return &holdsClient{base: strings.TrimRight(base, "/"), c: c}, nil
}

// holdsPageSize is the page size the CLI asks for: the API's most. Tests
// make it small to cross pages.
var holdsPageSize = 500

// list reads every page of GET /v1/holds.
func (c *holdsClient) list(ctx context.Context, status, account string) (holdList, error) {
	out := holdList{Holds: []cliHold{}}
	q := client.HoldsQuery{Status: client.HoldStatus(status), Account: account, Limit: holdsPageSize}
	for {
		page, err := c.c.ListHolds(ctx, q)
		if err != nil {
			return holdList{}, c.wrap(err)
		}
		for _, h := range page.Holds {
			out.Holds = append(out.Holds, toCLIHold(h))
		}
		out.TotalDueCents = page.TotalDueCents
		if page.NextCursor == "" {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
}

// pay marks a hold paid with the payment reference ref.
func (c *holdsClient) pay(ctx context.Context, id, ref string) (cliHold, error) {
	h, err := c.c.PayHold(ctx, id, client.PayHoldRequest{PaymentRef: ref})
	if err != nil {
		return cliHold{}, c.wrap(err)
	}
	return toCLIHold(*h), nil
}

// waive marks a hold waived for reason.
func (c *holdsClient) waive(ctx context.Context, id, reason string) (cliHold, error) {
	h, err := c.c.WaiveHold(ctx, id, client.WaiveHoldRequest{Reason: reason})
	if err != nil {
		return cliHold{}, c.wrap(err)
	}
	return toCLIHold(*h), nil
}

// wrap says which API an error that is not the API's own answer (the
// connection's) was about, and strips the client's "creditrun: " prefix
// from the API's answers, which main prints already.
func (c *holdsClient) wrap(err error) error {
	if _, ok := errors.AsType[*client.Error](err); ok {
		return &cliError{what: "the API answered", err: err}
	}
	return fmt.Errorf("the API at %s: %w", c.base, err)
}

// toCLIHold is h as the CLI prints it in JSON: as the API answers it, with
// payment_ref null until the hold is paid.
func toCLIHold(h client.Hold) cliHold {
	out := cliHold{ID: h.ID, AccountID: h.AccountID, JobID: h.JobID, Pool: h.Pool, OverageCredits: h.OverageCredits,
		AmountDueCents: h.AmountDueCents, Status: string(h.Status), CreatedAt: h.CreatedAt, PaidAt: h.PaidAt, WaiveReason: h.WaiveReason}
	if h.PaymentRef != "" {
		ref := h.PaymentRef
		out.PaymentRef = &ref
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printHolds writes holds as an aligned table.
func printHolds(w io.Writer, holds []cliHold) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tJOB\tPOOL\tCREDITS\tAMOUNT\tSTATUS\tCREATED\tCLOSED\tREFERENCE / REASON")
	for _, h := range holds {
		note := h.WaiveReason
		if h.PaymentRef != nil {
			note = *h.PaymentRef
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.AccountID, h.JobID, h.Pool,
			h.OverageCredits, money(h.AmountDueCents), h.Status, stamp(&h.CreatedAt), stamp(h.PaidAt), orDash(note))
	}
	_ = tw.Flush()
}

// holdsSummary is the line under the holds table. Due means unpaid: the
// amount due is said only of the unpaid holds, and a listing of paid or
// waived holds says nothing is due.
func holdsSummary(l holdList) string {
	unpaid := 0
	for _, h := range l.Holds {
		if h.Status == "unpaid" {
			unpaid++
		}
	}
	if unpaid == 0 && l.TotalDueCents == 0 {
		return fmt.Sprintf("%d hold(s), none unpaid: nothing is due", len(l.Holds))
	}
	return fmt.Sprintf("%d hold(s), %d unpaid; due on the unpaid holds: %s (total_due_cents %d)",
		len(l.Holds), unpaid, money(l.TotalDueCents), l.TotalDueCents)
}

// money shows cents as units with two decimals.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

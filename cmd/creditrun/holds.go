package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
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
		h, err = c.close(ctx, pos[0], "pay", map[string]string{"payment_ref": ref})
	} else {
		if strings.TrimSpace(reason) == "" {
			return errors.New("holds waive: --reason is required")
		}
		h, err = c.close(ctx, pos[0], "waive", map[string]string{"reason": reason})
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

// holdsClient calls the finance endpoints of the API.
type holdsClient struct {
	base string
	key  string
	http *http.Client
}

func newHoldsClient(base, key string) (*holdsClient, error) {
	if key == "" {
		return nil, errors.New("an API key is required: --key or CREDITRUN_KEY (a finance or admin key)")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q is not an http(s) URL", base)
	}
	return &holdsClient{base: strings.TrimRight(base, "/"), key: key, http: &http.Client{Timeout: time.Minute}}, nil
}

// holdsPageSize is the page size the CLI asks for: the API's most. Tests
// make it small to cross pages.
var holdsPageSize = 500

// list reads every page of GET /v1/holds.
func (c *holdsClient) list(ctx context.Context, status, account string) (holdList, error) {
	out := holdList{Holds: []cliHold{}}
	q := url.Values{"limit": {fmt.Sprint(holdsPageSize)}}
	if status != "" {
		q.Set("status", status)
	}
	if account != "" {
		q.Set("account", account)
	}
	for {
		var page struct {
			Holds         []cliHold `json:"holds"`
			NextCursor    *string   `json:"next_cursor"`
			TotalDueCents int64     `json:"total_due_cents"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/holds?"+q.Encode(), nil, &page); err != nil {
			return holdList{}, err
		}
		out.Holds = append(out.Holds, page.Holds...)
		out.TotalDueCents = page.TotalDueCents
		if page.NextCursor == nil || *page.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", *page.NextCursor)
	}
}

// close pays or waives a hold: action is "pay" or "waive".
func (c *holdsClient) close(ctx context.Context, id, action string, body map[string]string) (cliHold, error) {
	var h cliHold
	err := c.do(ctx, http.MethodPost, "/v1/holds/"+url.PathEscape(id)+"/"+action, body, &h)
	return h, err
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the API answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// do sends one request and decodes a 200 into out, or returns an
// *apiError with the API's message.
func (c *holdsClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("the API at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return e
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the API at %s answered what is not JSON: %w", c.base, err)
	}
	return nil
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

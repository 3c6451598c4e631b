package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/creditrun/creditrun/client"
)

// accountUsage is the help of `creditrun account`.
const accountUsage = `usage:
  creditrun account [--json]

Shows the key's account and its credit pools: allocated, used, reserved,
available (credit grants included), overage outstanding, the end of the
period, and what the pool's grants can still give (creditrun grants list
shows them).

` + customerAPIHelp

// journalUsage is the help of `creditrun ledger` without verify.
const journalUsage = `usage:
  creditrun ledger [--pool P] [--limit N] [--json]
  creditrun ledger verify …   (an audit of Redis; see creditrun ledger verify -h)

Shows the account's credit journal, oldest first: the last --limit entries
(default 100; 0 for all), of one pool with --pool.

` + customerAPIHelp

// runAccount runs `creditrun account`.
func runAccount(ctx context.Context, args []string) error {
	return osCLI().account(ctx, args)
}

func (c *cli) account(ctx context.Context, args []string) error {
	var af apiFlags
	fs := c.flagSet("account", accountUsage, &af)
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	if len(pos) > 0 {
		return usageError(fmt.Errorf("account: unexpected argument %q", pos[0]))
	}
	cl, err := c.client(af)
	if err != nil {
		return err
	}
	a, err := cl.GetAccount(ctx)
	if err != nil {
		return apiExit("account", err)
	}
	if af.asJSON {
		return printJSON(c.stdout, a)
	}
	fmt.Fprintf(c.stdout, "account %s (%s), plans %s\n", a.ID, orDash(a.Name), orDash(strings.Join(a.PlanIDs, ", ")))
	names := make([]string, 0, len(a.Pools))
	for name := range a.Pools {
		names = append(names, name)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tALLOCATED\tUSED\tRESERVED\tAVAILABLE\tOVERAGE OUTSTANDING\tPERIOD END\tFROM GRANTS")
	for _, name := range names {
		p := a.Pools[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\n", name, p.Allocated, p.Used, p.Reserved, p.Available,
			p.OverageOutstanding, stamp(&p.PeriodEnd), p.GrantsAvailable)
	}
	return tw.Flush()
}

// runLedgerCommands runs `creditrun ledger verify` (an audit of Redis) or,
// with any other arguments, `creditrun ledger`, the account's journal over
// the API.
func runLedgerCommands(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "verify" {
		return runLedger(ctx, args)
	}
	return osCLI().journal(ctx, args)
}

func (c *cli) journal(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(c.stderr, journalUsage)
		return nil
	}
	var af apiFlags
	fs := c.flagSet("ledger", journalUsage, &af)
	pool := fs.String("pool", "", "one pool's entries; all pools when absent")
	limit := fs.Int("limit", 100, "the last N entries; 0 for all")
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	if len(pos) > 0 {
		return usageError(fmt.Errorf("ledger: unexpected argument %q: the subcommand is verify, or none for the journal", pos[0]))
	}
	if *limit < 0 {
		return usageError(fmt.Errorf("ledger: --limit %d: want 0 (all) or more", *limit))
	}
	cl, err := c.client(af)
	if err != nil {
		return err
	}
	entries := []client.Entry{}
	for e, err := range cl.AllEntries(ctx, client.LedgerQuery{Pool: *pool, Limit: 1000}) {
		if err != nil {
			return apiExit("ledger", err)
		}
		entries = append(entries, e)
		if *limit > 0 && len(entries) > 2*(*limit) {
			entries = slices.Clone(entries[len(entries)-*limit:])
		}
	}
	if *limit > 0 && len(entries) > *limit {
		entries = entries[len(entries)-*limit:]
	}
	if af.asJSON {
		return printJSON(c.stdout, map[string]any{"entries": entries})
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tAT\tTYPE\tPOOL\tAMOUNT\tAVAILABLE AFTER\tJOB / HOLD / GRANT\tREASON")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.Seq, stamp(&e.At), e.Type, e.Pool, e.Amount, e.AvailableAfter,
			orDash(strings.Join(nonEmpty(e.JobID, e.HoldID, e.GrantID), " ")), orDash(e.Reason))
	}
	_ = tw.Flush()
	fmt.Fprintf(c.stdout, "%d entr(ies)\n", len(entries))
	return nil
}

// nonEmpty returns the strings of ss that are not empty, in order.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

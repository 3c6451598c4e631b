package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creditrun/creditrun/client"
)

// grantsUsage is the help of `creditrun grants`.
const grantsUsage = `usage:
  creditrun grants add --account A --pool P --amount N [--expires RFC3339 | --expires-in 720h]
                       [--priority N] [--reason R] [--idempotency-key K] [--json]
  creditrun grants list [--account A] [--json]
  creditrun grants void --account A ID [--reason R] [--json]

A grant is a block of credits of one pool, apart from the period
allocation, with its own expiry: a refresh never touches it. A pool spends
its period allocation first, then its grants by priority (lower first),
then earliest expiry (never-expiring last), then oldest.

add (admin key) adds a grant; without --expires or --expires-in it never
expires. The same --idempotency-key adds the grant once, however many times
the command runs. list shows the grants of --account (finance or admin
key), or of the key's own account (user key): active ones first, in
spending order, then expired and voided ones. void (admin key) ends a grant
at once and forfeits what it had left.

Every subcommand talks to the HTTP API:
  --url U   the API's base URL (env CREDITRUN_URL; default http://127.0.0.1:8080)
  --key K   the API key (env CREDITRUN_KEY; required)
  --json    print JSON (a grant as the API shows it) instead of a table
Flags may come before or after ID. Exit status: 0 success, 2 usage,
1 any other error.`

// runGrants runs `creditrun grants add|list|void`.
func runGrants(ctx context.Context, args []string) error {
	return osCLI().grants(ctx, args)
}

func (c *cli) grants(ctx context.Context, args []string) error {
	sub, args, err := c.subcommand("grants", grantsUsage, args, "add", "list", "void")
	if sub == "" {
		return err
	}
	var af apiFlags
	fs := c.flagSet("grants "+sub, grantsUsage, &af)
	fs.Lookup("key").Usage = "an API key: admin for add and void (env CREDITRUN_KEY)"
	var account, pool, expires, reason, idemKey string
	var amount, priority int64
	var expiresIn time.Duration
	fs.StringVar(&account, "account", "", "the account")
	switch sub {
	case "add":
		fs.StringVar(&pool, "pool", "", "the pool the grant fills (required)")
		fs.Int64Var(&amount, "amount", 0, "the credits granted, at least 1 (required)")
		fs.StringVar(&expires, "expires", "", "when the grant expires, an RFC 3339 time; never when absent")
		fs.DurationVar(&expiresIn, "expires-in", 0, "when the grant expires, from now (720h is 30 days)")
		fs.Int64Var(&priority, "priority", 0, "spending order among grants: lower first")
		fs.StringVar(&reason, "reason", "", "why the credits are granted, such as an invoice or a promotion")
		fs.StringVar(&idemKey, "idempotency-key", "", "adds the grant once per key, however often the command runs")
	case "void":
		fs.StringVar(&reason, "reason", "", "why the grant is voided, written into the journal")
	}
	pos, err := c.parse(fs, args)
	if err != nil {
		return helpOr(err)
	}
	switch sub {
	case "add":
		if len(pos) > 0 {
			return usageError(fmt.Errorf("grants add: unexpected argument %q", pos[0]))
		}
		req, err := grantRequest(account, pool, amount, expires, expiresIn, priority, reason, idemKey, time.Now())
		if err != nil {
			return usageError(err)
		}
		cl, err := c.client(af)
		if err != nil {
			return err
		}
		g, err := cl.AddGrant(ctx, account, req)
		if err != nil {
			return apiExit("grants add", err)
		}
		if af.asJSON {
			return printJSON(c.stdout, g)
		}
		printGrants(c.stdout, []client.Grant{*g})
		fmt.Fprintf(c.stdout, "grant %s adds %d credits to pool %s of account %s, %s.\n", g.ID, g.Amount, g.Pool, account, expiry(g.ExpiresAt))
		return nil
	case "list":
		if len(pos) > 0 {
			return usageError(fmt.Errorf("grants list: unexpected argument %q", pos[0]))
		}
		cl, err := c.client(af)
		if err != nil {
			return err
		}
		var gs []client.Grant
		if account == "" {
			gs, err = cl.Grants(ctx)
		} else {
			gs, err = cl.AccountGrants(ctx, account)
		}
		if err != nil {
			if account == "" && client.IsCode(err, client.CodeForbidden) {
				// A finance or admin key has no account of its own.
				return apiExit("grants list (name the account with --account)", err)
			}
			return apiExit("grants list", err)
		}
		if gs == nil {
			gs = []client.Grant{}
		}
		if af.asJSON {
			return printJSON(c.stdout, map[string]any{"grants": gs})
		}
		printGrants(c.stdout, gs)
		fmt.Fprintln(c.stdout, grantsSummary(gs))
		return nil
	default: // void
		if len(pos) != 1 || pos[0] == "" {
			return usageError(fmt.Errorf("grants void: want exactly one grant ID, got %d arguments", len(pos)))
		}
		if account == "" {
			return usageError(fmt.Errorf("grants void: --account is required: the account of grant %s", pos[0]))
		}
		cl, err := c.client(af)
		if err != nil {
			return err
		}
		g, err := cl.VoidGrant(ctx, account, pos[0], reason)
		if err != nil {
			return apiExit("grants void "+pos[0], err)
		}
		if af.asJSON {
			return printJSON(c.stdout, g)
		}
		printGrants(c.stdout, []client.Grant{*g})
		fmt.Fprintf(c.stdout, "grant %s of account %s is %s: what it had left is forfeited.\n", g.ID, account, g.Status)
		return nil
	}
}

// grantRequest checks the flags of `grants add` and makes its request;
// now is the time --expires-in counts from.
func grantRequest(account, pool string, amount int64, expires string, expiresIn time.Duration, priority int64, reason, idemKey string, now time.Time) (client.AddGrantRequest, error) {
	req := client.AddGrantRequest{Pool: pool, Amount: amount, Priority: priority, Reason: reason, IdempotencyKey: idemKey}
	switch {
	case account == "":
		return req, errors.New("grants add: --account is required")
	case strings.TrimSpace(pool) == "":
		return req, errors.New("grants add: --pool is required")
	case amount < 1:
		return req, errors.New("grants add: --amount is required: the credits granted, at least 1")
	case expires != "" && expiresIn != 0:
		return req, errors.New("grants add: --expires and --expires-in say the same thing: give one")
	case expiresIn < 0:
		return req, fmt.Errorf("grants add: --expires-in %s: want a duration after now, such as 720h", expiresIn)
	}
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return req, fmt.Errorf("grants add: --expires %q: want an RFC 3339 time, such as 2027-12-01T00:00:00Z", expires)
		}
		req.ExpiresAt = &t
	}
	if expiresIn > 0 {
		t := now.Add(expiresIn).UTC().Truncate(time.Second)
		req.ExpiresAt = &t
	}
	return req, nil
}

// printGrants writes grants as an aligned table.
func printGrants(w io.Writer, gs []client.Grant) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPOOL\tAMOUNT\tREMAINING\tPRIORITY\tEXPIRES\tSTATUS\tCREATED\tREASON")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", g.ID, g.Pool, g.Amount, g.Remaining, g.Priority,
			orNever(g.ExpiresAt), g.Status, stamp(&g.CreatedAt), orDash(g.Reason))
	}
	_ = tw.Flush()
}

// grantsSummary is the line under the grants table.
func grantsSummary(gs []client.Grant) string {
	var active, remaining int64
	for _, g := range gs {
		if g.Status == client.GrantActive {
			active++
			remaining += g.Remaining
		}
	}
	return fmt.Sprintf("%d grant(s), %d active with %d credits remaining", len(gs), active, remaining)
}

// orNever shows an expiry, "never" for none.
func orNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return stamp(t)
}

// expiry says when a grant expires, in a sentence.
func expiry(t *time.Time) string {
	if t == nil {
		return "never expiring"
	}
	return "expiring " + stamp(t)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// ledgerUsage is the help of `creditrun ledger`.
const ledgerUsage = `usage:
  creditrun ledger verify [--account A] [--json] [--grace 5m] [--redis-url URL]

verify audits the credit ledger in Redis, reading only: every pool against
its journal's replay and the invariants, every reservation, hold and index,
and every reservation against its job. It can run while creditrun runs.
  --account A       one account only; all accounts when absent
  --json            print one JSON document instead of lines of text
  --grace D         how long an in-between state may last before it is
                    reported (default 5m)
  --redis-url URL   the Redis (env CREDITRUN_REDIS_URL; required)
Exit status: 0 when every check holds, 1 when one fails (each failure is
listed), 2 for a usage error or an unknown account.`

// runLedger runs `creditrun ledger verify`.
func runLedger(ctx context.Context, args []string) error {
	return ledgerCommand(ctx, args, os.Stdout, os.Stderr, os.Getenv)
}

// ledgerCommand is runLedger with its outputs and environment given, for
// tests. It returns an error asking for exit status 2 (exitError) for a
// usage error, and one for status 1 when a check failed or Redis could not
// be read.
func ledgerCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, ledgerUsage)
		if len(args) == 0 {
			return usageError(errors.New("ledger: missing subcommand: verify"))
		}
		return nil
	}
	if args[0] != "verify" {
		fmt.Fprintln(stderr, ledgerUsage)
		return usageError(fmt.Errorf("ledger: unknown subcommand %q: verify", args[0]))
	}
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, ledgerUsage) }
	account := fs.String("account", "", "one account only")
	asJSON := fs.Bool("json", false, "print one JSON document")
	grace := fs.Duration("grace", ledger.DefaultVerifyGrace, "how long an in-between state may last before it is reported")
	redisURL := fs.String("redis-url", "", "the Redis (env CREDITRUN_REDIS_URL)")
	pos, err := parseInterspersed(fs, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return usageError(fmt.Errorf("ledger verify: %w", err))
	case len(pos) > 0:
		return usageError(fmt.Errorf("ledger verify: unexpected argument %q", pos[0]))
	case *grace <= 0:
		return usageError(fmt.Errorf("ledger verify: --grace must be positive, got %s", *grace))
	}
	if *account != "" {
		if err := credit.CheckID("account", *account); err != nil {
			return usageError(fmt.Errorf("ledger verify: --account: %w", err))
		}
	}
	raw := firstNonEmpty(*redisURL, getenv("CREDITRUN_REDIS_URL"))
	if raw == "" {
		return usageError(errors.New("ledger verify: --redis-url or CREDITRUN_REDIS_URL is required"))
	}
	target, err := parseRedisURL(raw)
	if err != nil {
		return usageError(fmt.Errorf("ledger verify: %w", err))
	}
	client := target.client(16)
	defer client.Close()
	// The ledger stamps its times with Redis's clock; the audit measures
	// the grace on the same clock.
	clock, err := ledger.NewRedisClock(ctx, client, ledger.RedisClockOptions{})
	if err != nil {
		return fmt.Errorf("ledger verify: redis at %s: %w", redactURL(raw), err)
	}
	defer clock.Close()
	l := ledger.New(client, ledger.Options{NowFunc: clock.Now})
	store := jobstore.New(client, jobstore.Options{NowFunc: clock.Now})

	start := time.Now()
	rep, err := l.Verify(ctx, ledger.VerifyOptions{Account: *account, Grace: *grace, Jobs: store.LedgerJobs()})
	switch {
	case errors.Is(err, credit.ErrUnknownAccount):
		return usageError(fmt.Errorf("ledger verify: no account %q in this ledger", *account))
	case err != nil:
		return fmt.Errorf("ledger verify: %w", err)
	}
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printVerifyReport(stdout, rep, time.Since(start))
	}
	if !rep.OK {
		return fmt.Errorf("ledger verify: %d check(s) failed", rep.FailureCount)
	}
	return nil
}

// printVerifyReport writes a report as lines of text: each failure, each
// warning, then what was checked and the verdict.
func printVerifyReport(w io.Writer, rep *ledger.VerifyReport, took time.Duration) {
	for _, f := range rep.Failures {
		fmt.Fprintln(w, "FAIL", f)
	}
	if n := rep.FailureCount - len(rep.Failures); n > 0 {
		fmt.Fprintf(w, "FAIL ... and %d more failures (--json lists the same first ones)\n", n)
	}
	for _, f := range rep.Warnings {
		fmt.Fprintln(w, "WARN", f)
	}
	if n := rep.WarningCount - len(rep.Warnings); n > 0 {
		fmt.Fprintf(w, "WARN ... and %d more warnings\n", n)
	}
	c := rep.Checked
	fmt.Fprintf(w, "checked %d accounts, %d pools, %d journal entries, %d reservations (%d open), %d holds, %d jobs in %s\n",
		rep.Accounts, c.Pools, c.JournalEntries, c.Reservations, c.OpenReservations, c.Holds, c.Jobs, took.Round(time.Millisecond))
	if rep.OK {
		fmt.Fprintf(w, "ok: every check holds (%d warnings)\n", rep.WarningCount)
		return
	}
	fmt.Fprintf(w, "not ok: %d failures, %d warnings\n", rep.FailureCount, rep.WarningCount)
}

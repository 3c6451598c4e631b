// Command creditrun is the one binary of creditrun: the API, the worker, the
// scheduler, the dataset generator and the finance tools, one subcommand each.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it runs until ctx is done or its work ends.
type command struct {
	summary string
	runFunc func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"dev":       {"API, worker and scheduler in one process on embedded defaults", runDev},
	"all":       {"API, worker and scheduler in one process against the configured Redis", runAll},
	"api":       {"the HTTP API", runAPIRole},
	"worker":    {"an asynq worker", runWorkerRole},
	"scheduler": {"the cron scheduler: period refresh, reaper, result expiry, hold-tag healing, upload cleanup", runSchedulerRole},
	"dataset":   {"dataset generate: a deterministic synthetic dataset", runDataset},
	"holds":     {"finance: list, pay and waive overage holds", runHolds},
	"grants":    {"grants add|list|void: credit grants, blocks of credits with their own expiry", runGrants},
	"ledger":    {"the account's credit journal; ledger verify: a read-only audit of the credit ledger", runLedgerCommands},
	"submit":    {"submit search|download|enrichment: a job, over the HTTP API; --wait for it to end", runSubmit},
	"jobs":      {"jobs list|get|wait|cancel: the account's jobs, over the HTTP API", runJobs},
	"results":   {"results ID --out DIR: fetch a job's result files", runResults},
	"account":   {"the account and its credit pools, over the HTTP API", runAccount},
	"bench":     {"the benchmark suite", runBench},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "creditrun:", err)
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.runFunc(ctx, args[1:])
}

func usage() {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stderr, "usage: creditrun <command> [flags]")
	fmt.Fprintln(os.Stderr, "\ncommands:")
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", name, commands[name].summary)
	}
}

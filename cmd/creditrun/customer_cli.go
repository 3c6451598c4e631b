package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/creditrun/creditrun/client"
)

// The exit statuses of the customer commands, besides 0 (success), 1 (any
// other error) and 2 (usage).
const (
	exitInsufficient = 3 // 402 insufficient_credits
	exitJobEnded     = 4 // the job failed or was canceled
	exitOverage      = 5 // 402 overage_unpaid
)

// customerAPIHelp is the part of each customer command's help about the
// API and the exit statuses.
const customerAPIHelp = `Every command talks to the HTTP API with a user key:
  --url U   the API's base URL (env CREDITRUN_URL; default http://127.0.0.1:8080)
  --key K   the API key (env CREDITRUN_KEY; required)
  --json    print JSON (a job as GET /v1/jobs/{id} shows it) instead of text
Flags may come before or after ID. Exit status: 0 success, 2 usage,
3 insufficient credits, 4 the job failed or was canceled, 5 overage unpaid,
1 any other error.`

// cli is what a customer command writes to and reads from: given, for
// tests.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// tty says stderr is a terminal: progress shows as bars there, as
	// plain lines elsewhere.
	tty bool
}

// osCLI is the process's own outputs and environment.
func osCLI() *cli {
	return &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, tty: term.IsTerminal(int(os.Stderr.Fd()))}
}

// apiFlags are the flags every customer command takes.
type apiFlags struct {
	url, key string
	asJSON   bool
}

// flagSet returns a flag set for the command name that prints help to
// c.stderr, with the API flags registered into af.
func (c *cli) flagSet(name, help string, af *apiFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprintln(c.stderr, help) }
	fs.StringVar(&af.url, "url", "", "the API's base URL (env CREDITRUN_URL)")
	fs.StringVar(&af.key, "key", "", "a user API key (env CREDITRUN_KEY)")
	fs.BoolVar(&af.asJSON, "json", false, "print JSON instead of text")
	return fs
}

// parse parses args into fs, flags and positional arguments in any order.
// It returns flag.ErrHelp for -h, and a usage error (exit 2) for flags
// that do not parse.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, usageError(fmt.Errorf("%s: %w", fs.Name(), err))
	}
	return pos, nil
}

// client returns an API client for af, with CREDITRUN_URL and
// CREDITRUN_KEY as defaults. A missing key or a bad URL is a usage error.
func (c *cli) client(af apiFlags) (*client.Client, error) {
	key := firstNonEmpty(af.key, c.getenv("CREDITRUN_KEY"))
	if key == "" {
		return nil, usageError(errors.New("an API key is required: --key or CREDITRUN_KEY"))
	}
	base := firstNonEmpty(af.url, c.getenv("CREDITRUN_URL"), defaultAPIURL)
	cl, err := client.New(base, key, client.WithUserAgent("creditrun-cli/1"))
	if err != nil {
		return nil, usageError(fmt.Errorf("--url %q is not an http(s) URL", base))
	}
	return cl, nil
}

// apiExit wraps err, an error of the API, with what and the exit status
// its code asks for: 3 for insufficient_credits, 5 for overage_unpaid.
func apiExit(what string, err error) error {
	e, ok := errors.AsType[*client.Error](err)
	if !ok {
		return &cliError{what: what, err: err}
	}
	switch e.Code {
	case client.CodeInsufficientCredits:
		return &exitError{code: exitInsufficient, err: &cliError{err: err,
			what: fmt.Sprintf("%s: insufficient credits in pool %s: %d required, %d available", what, e.Pool(), e.Required(), e.Available())}}
	case client.CodeOverageUnpaid:
		return &exitError{code: exitOverage, err: &cliError{err: err,
			what: fmt.Sprintf("%s: overage unpaid: hold %s asks %s for %d credits", what, e.HoldID(), money(e.AmountDueCents()), e.OverageCredits())}}
	}
	return &cliError{what: what, err: err}
}

// cliError is an error of the client package said after what the command
// was doing, without the client's own "creditrun: " prefix, which main
// prints already.
type cliError struct {
	what string
	err  error
}

func (e *cliError) Error() string {
	msg := e.err.Error()
	for _, p := range []string{"creditrun client: ", "creditrun: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return e.what + ": " + msg
}

func (e *cliError) Unwrap() error { return e.err }

// subcommand splits args into a subcommand among names and the rest. It
// prints help and returns a usage error for a missing or unknown one, and
// ("", nil, nil) after printing help for -h.
func (c *cli) subcommand(cmd, help string, args []string, names ...string) (string, []string, error) {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, help)
		return "", nil, usageError(fmt.Errorf("%s: missing subcommand: %s", cmd, orList(names)))
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(c.stderr, help)
		return "", nil, nil
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	fmt.Fprintln(c.stderr, help)
	return "", nil, usageError(fmt.Errorf("%s: unknown subcommand %q: %s", cmd, args[0], orList(names)))
}

// orList is "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	s := names[0]
	for _, n := range names[1 : len(names)-1] {
		s += ", " + n
	}
	return s + " or " + names[len(names)-1]
}

// oneID returns the one positional argument of cmd, a usage error
// otherwise.
func oneID(cmd string, pos []string) (string, error) {
	if len(pos) != 1 || pos[0] == "" {
		return "", usageError(fmt.Errorf("%s: want exactly one job ID, got %d arguments", cmd, len(pos)))
	}
	return pos[0], nil
}

// helpOr returns nil for flag.ErrHelp (help was printed), err otherwise.
func helpOr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

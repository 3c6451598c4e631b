package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/ledger/credit"
)

// DefaultVerifyGrace is how long Verify lets a state that is normal in
// passing (a job recorded but its reservation not yet released, a hold
// not yet in the global index) last before it reports it, unless
// VerifyOptions.Grace says otherwise. It is the reaper's grace.
const DefaultVerifyGrace = 5 * time.Minute

// DefaultVerifyMaxFindings is how many failures, and how many warnings,
// a VerifyReport lists at most, unless VerifyOptions.MaxFindings says
// otherwise. The counts go on past it.
const DefaultVerifyMaxFindings = 1000

// VerifyCheck names one check of Verify; each Finding says which failed.
type VerifyCheck string

// The checks of Verify. docs/ledger-verify.md says what each means.
const (
	// CheckJournal: the journal's seq runs 1, 2, 3… (or on from the
	// checkpoint it was trimmed to) without a gap up to the account's
	// counter, each entry's available balance follows from the entries
	// before it, and each later checkpoint states what they add up to (I4).
	CheckJournal VerifyCheck = "journal"
	// CheckPoolReplay: each pool's counts and period are what its journal
	// replays to, and the journal names no pool the account lacks (I4).
	CheckPoolReplay VerifyCheck = "pool-replay"
	// CheckI1: no count is negative, available is not negative, overage
	// stays under its limit.
	CheckI1 VerifyCheck = "i1"
	// CheckI2: an ended reservation balances: held = total_cost +
	// released, total_cost <= held, and posted prepaid + overage =
	// total_cost; a voided one released all it held.
	CheckI2 VerifyCheck = "i2"
	// CheckI6: each refresh of a pool starts a later period than the one
	// before it.
	CheckI6 VerifyCheck = "i6"
	// CheckReservationJournal: an open reservation holds what the journal
	// says its job holds, and a job the journal says holds credits has an
	// open reservation.
	CheckReservationJournal VerifyCheck = "reservation-journal"
	// CheckPending: the pending set lists exactly the open reservations.
	CheckPending VerifyCheck = "pending"
	// CheckPoolReservations: a pool's reserved and overage_reserved are the
	// sums of its open reservations' prepaid and overage.
	CheckPoolReservations VerifyCheck = "pool-reservations"
	// CheckHoldsOutstanding: a pool's overage_outstanding is the sum of the
	// credits of its unpaid holds.
	CheckHoldsOutstanding VerifyCheck = "holds-outstanding"
	// CheckHold: every hold the account's holds set or journal names
	// exists, is in that set, and belongs to the account and one of its
	// pools.
	CheckHold VerifyCheck = "hold"
	// CheckHoldIndex: every hold is in the global hold index and the
	// global hold-to-account map, and every hold they list exists.
	CheckHoldIndex VerifyCheck = "hold-index"
	// CheckHoldStatusIndex (a warning): each hold is in the global index
	// of its status and not in the unpaid one once closed. These indexes
	// may lag by design; readers check each hold's status.
	CheckHoldStatusIndex VerifyCheck = "hold-status-index"
	// CheckPeriodIndex: every pool is in the refresh sweep's period
	// index, never ahead of the pool's period end (behind is a warning).
	CheckPeriodIndex VerifyCheck = "period-index"
	// CheckAccountIndex: the account is in the global set of accounts
	// (checked when one account is verified; a full run walks that set),
	// and a registered account has pools (a warning).
	CheckAccountIndex VerifyCheck = "account-index"
	// CheckI7: a dedup job's charged record ids are all in its pool's
	// dedup set, number no more than its cost, and no record id is
	// charged by two jobs of one pool; an open or voided reservation has
	// none.
	CheckI7 VerifyCheck = "i7"
	// CheckI9: no grant's remaining or held is negative, nor held above
	// remaining; each grant's held is what the open reservations hold of
	// it; and each pool's grants_available is what its active grants can
	// still give.
	CheckI9 VerifyCheck = "i9"
	// CheckJobReservation: no open reservation outlives its job's end, or
	// lacks a job, by more than the grace; no job that has not ended lacks
	// a reservation past the grace.
	CheckJobReservation VerifyCheck = "job-reservation"
	// CheckRefund: no charge marked for a refund (the account's charges
	// set) waits longer than the grace when its job was never recorded or
	// ended without keeping its charge; a mark that outlives a job that
	// kept its charge is a warning.
	CheckRefund VerifyCheck = "refund"
	// CheckChanging (a warning): the account changed during every attempt
	// to read it whole, so it was not verified.
	CheckChanging VerifyCheck = "changing"
)

// Finding is one failed check: what, where, and what was found against
// what was expected, in a sentence an operator can act on.
type Finding struct {
	Check   VerifyCheck `json:"check"`
	Account string      `json:"account"`
	Pool    string      `json:"pool,omitempty"`
	Job     string      `json:"job,omitempty"`
	Hold    string      `json:"hold,omitempty"`
	// Got is what Redis holds; Want is what the check expected.
	Got     string `json:"got,omitempty"`
	Want    string `json:"want,omitempty"`
	Message string `json:"message"`
}

// String is the finding on one line: account, what it concerns, check and
// message.
func (f Finding) String() string {
	where := f.Account
	if f.Pool != "" {
		where += "/" + f.Pool
	}
	if f.Job != "" {
		where += " job " + f.Job
	}
	if f.Hold != "" {
		where += " hold " + f.Hold
	}
	return fmt.Sprintf("%s [%s] %s", where, f.Check, f.Message)
}

// VerifyCounts say how much Verify looked at.
type VerifyCounts struct {
	Pools            int64 `json:"pools"`
	JournalEntries   int64 `json:"journal_entries"`
	Reservations     int64 `json:"reservations"`
	OpenReservations int64 `json:"open_reservations"`
	Holds            int64 `json:"holds"`
	// IndexedHolds counts the entries of the global hold index walked to
	// find holds that no account has (full runs only).
	IndexedHolds int64 `json:"indexed_holds"`
	// Jobs counts the job records read to check reservations against.
	Jobs int64 `json:"jobs"`
	// Charges counts the entries of the accounts' refund queues.
	Charges int64 `json:"charges"`
	// ChargedRecordSets counts the dedup jobs whose charged record ids
	// were checked against their pool's dedup set.
	ChargedRecordSets int64 `json:"charged_record_sets"`
}

func (c *VerifyCounts) add(o VerifyCounts) {
	c.Pools += o.Pools
	c.JournalEntries += o.JournalEntries
	c.Reservations += o.Reservations
	c.OpenReservations += o.OpenReservations
	c.Holds += o.Holds
	c.IndexedHolds += o.IndexedHolds
	c.Jobs += o.Jobs
	c.Charges += o.Charges
	c.ChargedRecordSets += o.ChargedRecordSets
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// OK is true when no check failed; warnings do not count.
	OK bool `json:"ok"`
	// Accounts is how many accounts were verified.
	Accounts int          `json:"accounts"`
	Checked  VerifyCounts `json:"checked"`
	// Failures and Warnings list the findings, up to MaxFindings each,
	// ordered by account, check and subject.
	Failures []Finding `json:"failures"`
	Warnings []Finding `json:"warnings"`
	// FailureCount and WarningCount count every finding, those the lists
	// leave out too.
	FailureCount int `json:"failure_count"`
	WarningCount int `json:"warning_count"`
}

// JobRef names one job of one account.
type JobRef struct {
	Account, ID string
}

// JobState is what Verify needs to know of a job's record.
type JobState struct {
	// Status is the job's status as recorded: queued, running, succeeded,
	// failed or canceled.
	Status string
	// Ended says the job has ended: succeeded, failed or canceled.
	Ended bool
	// EndedAt is when the job ended; zero while it has not, or when its
	// record does not say.
	EndedAt time.Time
	// ChargeStands says the job ended keeping what it was charged: it
	// succeeded, or was canceled or failed after a charge at acceptance had
	// started running. A job that ended otherwise (a charge at acceptance
	// that never started) is due a refund.
	ChargeStands bool
	// Problem, when not empty, says why the record could not be read as a
	// job; the other fields are then unset.
	Problem string
}

// VerifyJobs is what Verify reads of job records to check each reservation
// against its job. The job store implements it (jobstore.LedgerJobs); the
// ledger does not know jobs otherwise.
type VerifyJobs interface {
	// ActiveBefore returns the jobs of these accounts that were created
	// before the given time and have not ended. Returns an error only
	// when the records cannot be read.
	ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]JobRef, error)
	// JobStates returns the state of every job of refs that has a record;
	// a job without one is absent from the map. Returns an error only when
	// the records cannot be read.
	JobStates(ctx context.Context, refs []JobRef) (map[JobRef]JobState, error)
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Account limits the audit to one account; empty audits every account
	// in the global set of accounts, and walks the global hold index.
	Account string
	// Grace is how long a state that is normal in passing may last before
	// it is reported. Defaults to DefaultVerifyGrace.
	Grace time.Duration
	// Jobs, when not nil, has every reservation checked against its job's
	// record and every job that has not ended against its reservation.
	Jobs VerifyJobs
	// MaxFindings caps the failures and the warnings a report lists.
	// Defaults to DefaultVerifyMaxFindings.
	MaxFindings int
	// Concurrency is how many pages of accounts are read at once.
	// Defaults to 4.
	Concurrency int
}

// verifyAttempts is how many times an account that fails a check is read
// and checked again before its failures are reported: Verify reads a live
// Redis, and a change between two of its reads may look like a fault once.
const verifyAttempts = 3

// verifyRetryPause is the pause before an account is checked again.
var verifyRetryPause = 100 * time.Millisecond

// Verify audits the ledger, reading only: for every account (or the one
// of opts.Account) it replays the journal, from the checkpoint it starts
// with when it was trimmed (Checkpoint), and checks the pools against it
// and against I1, each reservation against I2, the journal and the pending
// set, the holds against the pools' overage debt and the global indexes,
// the dedup records (I7), the refund queue and, with opts.Jobs, each
// reservation against its job. docs/ledger-verify.md describes each check.
//
// It reads a page of accounts at a time, each page in a few pipelined round
// trips, and the journals in pages, so its memory does not grow with the
// number of accounts. On a single Redis it reads each page's state in one
// MULTI; on Cluster, where an account's keys share one slot but a page's do
// not, it reads them in one pipeline and relies on reading again: an
// account that fails a check is read and checked afresh, up to three times,
// before its failures are reported, so a change that lands between two
// reads is not reported as a fault.
//
// The report lists what failed; the error is for what kept Verify from
// looking: Redis failing, or bad options (an error wrapping
// credit.ErrInvalidID for a malformed account id, credit.ErrUnknownAccount
// for an account with no state at all, credit.ErrInvalidAmount for a
// negative grace).
func (l *Redis) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	if opts.Grace < 0 {
		return nil, fmt.Errorf("verify: grace %s: %w", opts.Grace, credit.ErrInvalidAmount)
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultVerifyGrace
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = DefaultVerifyMaxFindings
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	v := &verifier{l: l, opts: opts, now: l.now(), unmapped: map[string]bool{}}
	v.cutoff = v.now.Add(-opts.Grace)
	v.window = v.now.Add(-l.retainEnded)
	rep := &VerifyReport{Failures: []Finding{}, Warnings: []Finding{}}
	collect := func(results []*verifyAccount) {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, a := range results {
			for _, f := range a.fails {
				if f.Check == CheckHoldIndex && f.Got == gotUnmapped {
					v.unmapped[f.Hold] = true
				}
			}
			rep.Accounts++
			rep.Checked.add(a.counts)
			v.addFindings(rep, a.fails, a.warns)
		}
	}

	if opts.Account != "" {
		if err := credit.CheckID("account", opts.Account); err != nil {
			return nil, err
		}
		known, err := v.accountKnown(ctx, opts.Account)
		if err != nil {
			return nil, err
		}
		if !known {
			return nil, fmt.Errorf("verify %s: %w", opts.Account, credit.ErrUnknownAccount)
		}
		results, err := v.accounts(ctx, []string{opts.Account})
		if err != nil {
			return nil, err
		}
		collect(results)
	} else {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opts.Concurrency)
		seen := map[string]bool{}
		err := l.eachAccountPage(gctx, func(page []string) error {
			fresh := make([]string, 0, len(page))
			for _, a := range page {
				if !seen[a] {
					seen[a] = true
					fresh = append(fresh, a)
				}
			}
			g.Go(func() error {
				results, err := v.accounts(gctx, fresh)
				if err != nil {
					return err
				}
				collect(results)
				return nil
			})
			return nil
		})
		if werr := g.Wait(); werr != nil {
			err = werr // the cause; the walk's error is then its cancellation
		}
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		orphans, walked, err := v.holdIndexOrphans(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		rep.Checked.IndexedHolds += walked
		v.addFindings(rep, orphans, nil)
	}

	order := func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Check, b.Check), cmp.Compare(a.Pool, b.Pool),
			cmp.Compare(a.Job, b.Job), cmp.Compare(a.Hold, b.Hold), cmp.Compare(a.Message, b.Message))
	}
	slices.SortFunc(rep.Failures, order)
	slices.SortFunc(rep.Warnings, order)
	rep.OK = rep.FailureCount == 0
	return rep, nil
}

// verifier is one run of Verify.
type verifier struct {
	l    *Redis
	opts VerifyOptions
	// now is when the run started; cutoff is now less the grace; window is
	// now less how long ended reservations are kept: journal entries older
	// than that belong to reservations that are gone.
	now, cutoff, window time.Time

	mu sync.Mutex // guards the report and unmapped
	// unmapped are the holds an account's check found missing from the
	// global hold-to-account map, so that the walk of the global index
	// does not report them again.
	unmapped map[string]bool
}

// addFindings adds failures and warnings to the report, each to its
// list, up to the cap.
func (v *verifier) addFindings(rep *VerifyReport, fails, warns []Finding) {
	rep.FailureCount += len(fails)
	rep.WarningCount += len(warns)
	rep.Failures = append(rep.Failures, fails[:min(len(fails), v.opts.MaxFindings-len(rep.Failures))]...)
	rep.Warnings = append(rep.Warnings, warns[:min(len(warns), v.opts.MaxFindings-len(rep.Warnings))]...)
}

// accounts verifies a page of accounts, and reads and checks again, up to
// verifyAttempts in all, those with failures; it returns the last result
// of each.
func (v *verifier) accounts(ctx context.Context, ids []string) ([]*verifyAccount, error) {
	results, err := v.page(ctx, ids)
	if err != nil {
		return nil, err
	}
	for attempt := 1; attempt < verifyAttempts; attempt++ {
		var again []string
		at := map[string]int{}
		for i, a := range results {
			if len(a.fails) > 0 {
				again = append(again, a.id)
				at[a.id] = i
			}
		}
		if len(again) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(verifyRetryPause):
		}
		fresh, err := v.page(ctx, again)
		if err != nil {
			return nil, err
		}
		for _, a := range fresh {
			results[at[a.id]] = a
		}
	}
	return results, nil
}

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditrun/creditrun/jobs"
)

// ExpirerAccounts lists every account; *ledger.Redis implements it.
type ExpirerAccounts interface {
	// Accounts returns every account id, in no order.
	Accounts(ctx context.Context) ([]string, error)
}

// ExpirerJobs is what the expiry needs of the jobs service.
type ExpirerJobs interface {
	// ResultsDue returns the jobs of these accounts that finished before the
	// given time and still have result files.
	ResultsDue(ctx context.Context, accounts []string, before time.Time) ([]jobs.JobRef, error)
	// ExpireResults deletes a succeeded job's result files and marks its
	// results expired; idempotent.
	ExpireResults(ctx context.Context, account, id string) (jobs.Job, error)
}

var _ ExpirerJobs = (*jobs.Service)(nil)

// ExpirerConfig configures an Expirer.
type ExpirerConfig struct {
	// Accounts and Jobs are required.
	Accounts ExpirerAccounts
	Jobs     ExpirerJobs
	// ResultTTL is how long result files are kept after the job finished
	// (CREDITRUN_RESULT_TTL). Required.
	ResultTTL time.Duration
}

// Expirer deletes result files past their retention.
type Expirer struct {
	cfg ExpirerConfig
}

// NewExpirer returns an Expirer on cfg.
func NewExpirer(cfg ExpirerConfig) (*Expirer, error) {
	switch {
	case cfg.Accounts == nil || cfg.Jobs == nil:
		return nil, errors.New("expirer: accounts and jobs are required")
	case cfg.ResultTTL <= 0:
		return nil, fmt.Errorf("expirer: result TTL %s must be positive", cfg.ResultTTL)
	}
	return &Expirer{cfg: cfg}, nil
}

// expirePage is how many accounts one ResultsDue call covers.
const expirePage = 500

// Expire deletes the result files of every succeeded job that finished
// ResultTTL or more before now, and marks the job's results expired. It reads
// each account's index of jobs with result files, a page of accounts a round
// trip, so a pass costs little when nothing is due. A job whose files could
// not be deleted is joined into the error and tried again on the next pass.
// Any number of expirers may run at once.
func (e *Expirer) Expire(ctx context.Context, now time.Time) (expired int, err error) {
	accounts, err := e.cfg.Accounts.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("expire: %w", err)
	}
	cutoff := now.Add(-e.cfg.ResultTTL)
	var errs []error
	for page := range slices.Chunk(accounts, expirePage) {
		due, err := e.cfg.Jobs.ResultsDue(ctx, page, cutoff.Add(time.Millisecond))
		if err != nil {
			return expired, errors.Join(append(errs, fmt.Errorf("expire: %w", err))...)
		}
		for _, ref := range due {
			if err := ctx.Err(); err != nil {
				return expired, errors.Join(append(errs, err)...)
			}
			_, err := e.cfg.Jobs.ExpireResults(ctx, ref.Account, ref.ID)
			switch {
			case errors.Is(err, jobs.ErrNotFound):
				// Its record went since the index was read.
			case err != nil:
				errs = append(errs, err)
			default:
				expired++
			}
		}
	}
	return expired, errors.Join(errs...)
}

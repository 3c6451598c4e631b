package scheduler

import (
	"context"
	"errors"
	"fmt"
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
	// List returns a page of an account's jobs, newest first.
	List(ctx context.Context, account string, f jobs.ListFilter) ([]jobs.Job, string, error)
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

// Expire deletes the result files of every succeeded job that finished
// ResultTTL or more before now, and marks the job's results expired. It
// reads every succeeded job of every account, so it suits an hourly entry;
// a job whose files could not be deleted is joined into the error and tried
// again on the next pass. Any number of expirers may run at once.
func (e *Expirer) Expire(ctx context.Context, now time.Time) (expired int, err error) {
	accounts, err := e.cfg.Accounts.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("expire: %w", err)
	}
	cutoff := now.Add(-e.cfg.ResultTTL)
	var errs []error
	for _, a := range accounts {
		cursor := ""
		for {
			page, next, err := e.cfg.Jobs.List(ctx, a, jobs.ListFilter{Status: jobs.Succeeded, Limit: 500, Cursor: cursor})
			if err != nil {
				errs = append(errs, fmt.Errorf("expire: jobs of %s: %w", a, err))
				break
			}
			for _, j := range page {
				if j.ResultsExpiredAt != nil || len(j.Results) == 0 || j.FinishedAt == nil || j.FinishedAt.After(cutoff) {
					continue
				}
				if _, err := e.cfg.Jobs.ExpireResults(ctx, a, j.ID); err != nil {
					errs = append(errs, err)
					continue
				}
				expired++
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return expired, errors.Join(errs...)
}

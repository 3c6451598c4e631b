package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// errPoolDown is what failingPools returns.
var errPoolDown = errors.New("pool store down")

// failingPools is the ledger with its failAt-th OpenPool failing: a
// creation cut between the claim of its id and its pools.
type failingPools struct {
	jobs.Ledger
	calls  atomic.Int64
	failAt int64
}

func (l *failingPools) OpenPool(ctx context.Context, account string, cfg credit.PoolConfig, start, end time.Time) (credit.Pool, bool, error) {
	if l.calls.Add(1) == l.failAt {
		return credit.Pool{}, false, errPoolDown
	}
	return l.Ledger.OpenPool(ctx, account, cfg, start, end)
}

// TestCreateAccountResumes cuts a creation after its id is claimed and
// before its second pool opens: the repeat with the same body opens what is
// missing and answers the account; one with another body is refused.
func TestCreateAccountResumes(t *testing.T) {
	t.Parallel()
	var fl *failingPools
	f := newFixture(t, func(cfg *jobs.Config) {
		fl = &failingPools{Ledger: cfg.Ledger, failAt: 2}
		cfg.Ledger = fl
	})
	plans := []string{"people-10", "local-3"}

	if _, err := f.svc.CreateAccount(ctx, "acme-2", "Acme", plans); !errors.Is(err, errPoolDown) {
		t.Fatalf("a creation whose pool fails: %v, want the failure", err)
	}
	first, err := f.svc.Account(ctx, "acme-2")
	if err != nil {
		t.Fatalf("the id was claimed before the pools: %v", err)
	}

	for _, tt := range []struct {
		name  string
		plans []string
	}{
		{"Other", plans},
		{"Acme", []string{"people-10"}},
		{"Acme", []string{"local-3", "people-10"}},
	} {
		if _, err := f.svc.CreateAccount(ctx, "acme-2", tt.name, tt.plans); !errors.Is(err, jobs.ErrAccountExists) {
			t.Errorf("a creation of acme-2 as %q %v: %v, want ErrAccountExists", tt.name, tt.plans, err)
		}
	}
	if pools, err := f.l.Pools(ctx, "acme-2"); err != nil || len(pools) != 1 || pools[0].Name != "people" {
		t.Fatalf("pools after the cut creation and the refused ones: %+v, %v; want people alone", pools, err)
	}

	for range 2 { // the repeat, and a repeat of a complete creation
		a, err := f.svc.CreateAccount(ctx, "acme-2", "Acme", plans)
		if err != nil {
			t.Fatalf("the repeat: %v", err)
		}
		if a.ID != "acme-2" || !a.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("the repeat answers %+v, want the account as first created %+v", a, first)
		}
		pools, err := f.l.Pools(ctx, "acme-2")
		if err != nil || len(pools) != 2 {
			t.Fatalf("pools after the repeat: %+v, %v", pools, err)
		}
		if got := f.available(t, "acme-2", "people"); got != 10 {
			t.Errorf("people available %d, want the plan's 10 once", got)
		}
	}
	f.checkInvariants(t, "acme-2")
}

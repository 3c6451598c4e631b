package api_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
)

// poolsFailOnce is the ledger with its first OpenPool failing: a creation
// cut between the claim of the account's id and its pools.
type poolsFailOnce struct {
	jobs.Ledger
	calls atomic.Int64
}

func (l *poolsFailOnce) OpenPool(ctx context.Context, account string, cfg credit.PoolConfig, start, end time.Time) (credit.Pool, bool, error) {
	if l.calls.Add(1) == 1 {
		return credit.Pool{}, false, errors.New("pool store down")
	}
	return l.Ledger.OpenPool(ctx, account, cfg, start, end)
}

// TestCreateAccountRetry creates an account whose pools fail to open once:
// the retry with the same body completes it and answers 201 with the first
// user key; a later repeat answers 201 with no key (the first was issued);
// another body for the id is 409.
func TestCreateAccountRetry(t *testing.T) {
	e := newEnv(t, func(cfg *api.Config) {
		l := ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		cfg.Jobs = jobs.NewService(jobs.Config{Ledger: &poolsFailOnce{Ledger: l}, Store: js, Queue: &jobstest.Queue{}, Accounts: js, Catalog: plan.Builtin()})
	})
	body := map[string]any{"id": "acme", "name": "Acme", "plans": []string{"people-1k-99"}}
	create := func(body map[string]any) reply {
		return e.do(t, req{method: "POST", path: "/v1/accounts", key: e.admin, body: body})
	}

	if r := create(body); r.status < 500 {
		t.Fatalf("a creation whose pool fails: %d %s, want a 5xx", r.status, r.body)
	}
	r := create(body)
	if r.status != http.StatusCreated {
		t.Fatalf("the retry: %d %s, want 201", r.status, r.body)
	}
	m := r.json(t)
	key, _ := m["api_key"].(string)
	if acct, _ := m["account"].(map[string]any); acct["id"] != "acme" || key == "" {
		t.Fatalf("the retry answers %s, want the account and its first key", r.body)
	}
	got := e.do(t, req{method: "GET", path: "/v1/account", key: key})
	if got.status != http.StatusOK {
		t.Fatalf("GET /v1/account with the retry's key: %d %s", got.status, got.body)
	}
	if pools, _ := got.json(t)["pools"].(map[string]any); pools["people"] == nil {
		t.Errorf("the account after the retry has pools %v, want people", pools)
	}

	again := create(body)
	if again.status != http.StatusCreated {
		t.Fatalf("a repeat of a complete creation: %d %s, want 201", again.status, again.body)
	}
	if k, ok := again.json(t)["api_key"]; !ok || k != nil {
		t.Errorf("a repeat of a complete creation answers api_key %v, want null: the first key was issued", k)
	}
	for _, other := range []map[string]any{
		{"id": "acme", "name": "Other", "plans": []string{"people-1k-99"}},
		{"id": "acme", "name": "Acme", "plans": []string{"people-1k-99", "local-2k-49"}},
	} {
		create(other).error(t, http.StatusConflict, "conflict")
	}
	if got := e.available(t, "acme", "people"); got != 1000 {
		t.Errorf("people available %d, want the plan's 1000 once", got)
	}
	e.checkInvariants(t, "acme")
}

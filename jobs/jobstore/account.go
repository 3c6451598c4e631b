package jobstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// CreateAccount writes a new account. One without a CreatedAt gets the
// store's now; nil PlanIDs are stored as an empty list.
//
// Returns an error wrapping jobs.ErrAccountExists when the id is taken, and
// one wrapping credit.ErrInvalidID when it cannot be part of a key.
func (r *Redis) CreateAccount(ctx context.Context, a jobs.Account) error {
	if err := credit.CheckID("account", a.ID); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = r.nowFunc()
	}
	if a.PlanIDs == nil {
		a.PlanIDs = []string{}
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("create account %s: encode: %w", a.ID, err)
	}
	ok, err := r.client.SetNX(ctx, r.keys.profile(a.ID), data, 0).Result()
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	if !ok {
		return fmt.Errorf("create account %s: %w", a.ID, jobs.ErrAccountExists)
	}
	return nil
}

// Account returns an account.
//
// Returns an error wrapping jobs.ErrNotFound for an unknown id; for a
// malformed id the error wraps credit.ErrInvalidID as well.
func (r *Redis) Account(ctx context.Context, id string) (jobs.Account, error) {
	if err := credit.CheckID("account", id); err != nil {
		return jobs.Account{}, fmt.Errorf("account %q: %w: %w", id, jobs.ErrNotFound, err)
	}
	data, err := r.client.Get(ctx, r.keys.profile(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return jobs.Account{}, fmt.Errorf("account %s: %w", id, jobs.ErrNotFound)
	}
	if err != nil {
		return jobs.Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	var a jobs.Account
	if err := json.Unmarshal(data, &a); err != nil {
		return jobs.Account{}, fmt.Errorf("account %s: decode: %w", id, err)
	}
	return a, nil
}

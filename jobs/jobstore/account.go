package jobstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

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

// AccountsByID returns the accounts of ids that exist, by id. It reads them
// in one pipeline of GETs: one round trip, or one per node on Cluster, where
// the accounts sit on different slots. An id that is unknown or malformed is
// simply absent from the map; an empty ids gives an empty map and no round
// trip.
//
// Returns an error, and no map, when Redis fails. A record that does not
// decode is left out of the map, which the others still fill, and named in
// the error, a *BadRecordsError: one bad record does not hide the rest.
func (r *Redis) AccountsByID(ctx context.Context, ids []string) (map[string]jobs.Account, error) {
	found := make(map[string]jobs.Account, len(ids))
	cmds := make(map[string]*redis.StringCmd, len(ids))
	pipe := r.client.Pipeline()
	for _, id := range ids {
		if _, dup := cmds[id]; dup || credit.CheckID("account", id) != nil {
			continue
		}
		cmds[id] = pipe.Get(ctx, r.keys.profile(id))
	}
	if len(cmds) == 0 {
		return found, nil
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	var bad map[string]error
	for id, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("accounts by id (%d): account %s: %w", len(cmds), id, err)
		}
		var a jobs.Account
		if err := json.Unmarshal(data, &a); err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[id] = fmt.Errorf("account %s: decode: %w", id, err)
			continue
		}
		found[id] = a
	}
	if bad != nil {
		return found, &BadRecordsError{Errs: bad}
	}
	return found, nil
}

// BadRecordsError names the account records that AccountsByID could not
// decode, each with its error.
type BadRecordsError struct {
	Errs map[string]error
}

func (e *BadRecordsError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Errs))
	msgs := make([]string, len(ids))
	for i, id := range ids {
		msgs[i] = e.Errs[id].Error()
	}
	return fmt.Sprintf("%d account records do not decode: %s", len(ids), strings.Join(msgs, "; "))
}

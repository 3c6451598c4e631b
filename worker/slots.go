package worker

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fair share across accounts.
//
// One account's many expensive jobs must not keep every worker busy while
// other accounts' jobs wait. AccountSlots caps the jobs of one account that
// run at once across the whole cluster: a semaphore per account, held in
// Redis, leased, keyed by job id. The handler takes a slot when it picks up
// a task, before it starts the job; a task of an account that has all its
// slots running goes back to asynq as a retry a short while later, without
// using up one of its retries (NewServer does not count ErrAccountBusy as a
// failure), and the worker picks up the next task, another account's.
//
// The other way, asynq queues per tier with weights, was not taken: it
// shares workers between tiers, not between accounts, so one account of a
// tier still starves the others of its tier; and asynq's queues are fixed
// when a server starts, so there cannot be one per account. The semaphore
// shares by account whatever the plans, and needs no new queue.
//
// Limits. asynq (v0.26) archives a task that returns an error on its last
// retry, failure or not, so a task on its last retry runs over the cap
// rather than be lost; that takes a job that failed every earlier attempt,
// which is rare. A slot is leased (SlotLease) and renewed while the job runs,
// so the slot of a worker that died is free again when its lease ends. Two
// deliveries of one task at once (asynq redelivers a task whose worker seems
// dead) share its slot. A job waits behind its account's others as long as
// they run; the scheduler's reaper still fails one queued past its deadline.

// SlotLease is how long a slot is held without being renewed; a running job
// renews it every third of that.
const SlotLease = 30 * time.Second

//go:embed scripts/slot.lua
var slotLua string

var slotScript = redis.NewScript(slotLua)

// ErrAccountBusy is wrapped by a *BusyError: the task's account has as many
// jobs running as it may.
var ErrAccountBusy = errors.New("the account has as many jobs running as it may")

// BusyError is returned by AccountSlots.Acquire when the account has Limit
// jobs running. Delay is how long the task should wait before it is tried
// again: longer the more of the account's tasks wait.
type BusyError struct {
	Account string
	Limit   int
	Waiting int64 // tasks of the account turned away lately, this one among them
	Delay   time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("account %s has %d jobs running, its limit; %d waiting; trying again in %s",
		e.Account, e.Limit, e.Waiting, e.Delay.Round(time.Millisecond))
}

// Unwrap makes every BusyError an ErrAccountBusy.
func (e *BusyError) Unwrap() error { return ErrAccountBusy }

// SlotsConfig is what AccountSlots are built from.
type SlotsConfig struct {
	// Limit is the most jobs of one account that run at once across every
	// worker sharing the Redis. It must be 1 or more.
	Limit int
	// Prefix starts every key. Defaults to "cr".
	Prefix string
	// RetryDelay is the least wait of a task turned away; it grows with the
	// account's waiting tasks, to MaxRetryDelay. Defaults to 2 s.
	RetryDelay time.Duration
	// MaxRetryDelay is the most wait of a task turned away. Defaults to a
	// minute.
	MaxRetryDelay time.Duration
	// NowFunc is the clock of the leases, the same for every worker.
	// Defaults to time.Now.
	NowFunc func() time.Time
	// Logger gets a warning when a slot cannot be taken, renewed or given
	// back because of Redis. Defaults to slog.Default().
	Logger *slog.Logger
}

// AccountSlots is the per-account cap of jobs running at once, on Redis.
type AccountSlots struct {
	rdb redis.UniversalClient
	cfg SlotsConfig
}

// NewAccountSlots returns the slots of cfg on rdb. It returns an error when
// cfg.Limit is less than 1.
func NewAccountSlots(rdb redis.UniversalClient, cfg SlotsConfig) (*AccountSlots, error) {
	if cfg.Limit < 1 {
		return nil, fmt.Errorf("account slots: limit %d, want 1 or more", cfg.Limit)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "cr"
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 2 * time.Second
	}
	if cfg.MaxRetryDelay <= 0 {
		cfg.MaxRetryDelay = time.Minute
	}
	cfg.MaxRetryDelay = max(cfg.MaxRetryDelay, cfg.RetryDelay)
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &AccountSlots{rdb: rdb, cfg: cfg}, nil
}

// Keys of the slots. Like the ledger's, an account's carry the hash tag
// {a:<account>}, so that the script runs on one cluster slot.

// runningKey is a sorted set of the jobs of the account that hold a slot,
// by when their lease ends (unix ms).
func (s *AccountSlots) runningKey(account string) string {
	return s.cfg.Prefix + ":{a:" + account + "}:slots:running"
}

// waitingKey is a sorted set of the jobs of the account turned away lately,
// by until when they count (unix ms).
func (s *AccountSlots) waitingKey(account string) string {
	return s.cfg.Prefix + ":{a:" + account + "}:slots:waiting"
}

// Slot is a slot taken; Release gives it back.
type Slot struct {
	s       *AccountSlots
	account string
	job     string
	stop    chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

// Acquire takes a slot of account for job, and renews it every third of
// SlotLease until it is released. It returns a *BusyError (ErrAccountBusy)
// when the account has Limit jobs running, and an error wrapping Redis's
// otherwise. Taking the slot a job holds renews it.
func (s *AccountSlots) Acquire(ctx context.Context, account, job string) (*Slot, error) {
	ok, _, waiting, err := s.take(ctx, account, job)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &BusyError{Account: account, Limit: s.cfg.Limit, Waiting: waiting, Delay: s.delay(waiting)}
	}
	sl := &Slot{s: s, account: account, job: job, stop: make(chan struct{})}
	sl.done.Go(sl.renew)
	return sl, nil
}

// take runs the slot script.
func (s *AccountSlots) take(ctx context.Context, account, job string) (ok bool, running, waiting int64, err error) {
	now := s.cfg.NowFunc().UnixMilli()
	wait := 2 * s.cfg.MaxRetryDelay
	res, err := slotScript.Run(ctx, s.rdb, []string{s.runningKey(account), s.waitingKey(account)},
		job, now, SlotLease.Milliseconds(), s.cfg.Limit, wait.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, 0, fmt.Errorf("slot of %s for %s: %w", account, job, err)
	}
	if len(res) != 3 {
		return false, 0, 0, fmt.Errorf("slot of %s for %s: the script answered %v", account, job, res)
	}
	return res[0] == 1, res[1], res[2], nil
}

// delay is the wait of a task turned away while waiting tasks of its
// account wait: RetryDelay for each round of Limit of them, at most
// MaxRetryDelay, spread by a half either way so that they do not all come
// back at once.
func (s *AccountSlots) delay(waiting int64) time.Duration {
	rounds := max(1, (waiting+int64(s.cfg.Limit)-1)/int64(s.cfg.Limit))
	d := s.cfg.MaxRetryDelay
	if rounds < int64(s.cfg.MaxRetryDelay/s.cfg.RetryDelay) {
		d = s.cfg.RetryDelay * time.Duration(rounds)
	}
	return d/2 + rand.N(d)
}

// renew renews the slot's lease until Release.
func (sl *Slot) renew() {
	t := time.NewTicker(SlotLease / 3)
	defer t.Stop()
	for {
		select {
		case <-sl.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), SlotLease/3)
			ok, _, _, err := sl.s.take(ctx, sl.account, sl.job)
			cancel()
			switch {
			case err != nil:
				sl.s.cfg.Logger.Warn("renew an account slot", "account", sl.account, "job", sl.job, "err", err)
			case !ok:
				// The lease ran out while Redis could not be reached, and
				// the account's other jobs took the slot: this one runs on
				// over the cap, which is better than stopping it.
				sl.s.cfg.Logger.Warn("an account slot was lost", "account", sl.account, "job", sl.job)
			}
		}
	}
}

// Release stops renewing the slot and gives it back. It does nothing on nil
// and after the first call. A failure to give it back is logged: the lease
// frees it.
func (sl *Slot) Release() {
	if sl == nil {
		return
	}
	sl.once.Do(func() {
		close(sl.stop)
		sl.done.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		defer cancel()
		if err := sl.s.rdb.ZRem(ctx, sl.s.runningKey(sl.account), sl.job).Err(); err != nil {
			sl.s.cfg.Logger.Warn("release an account slot", "account", sl.account, "job", sl.job, "err", err)
		}
	})
}

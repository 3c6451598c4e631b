package main

import (
	"context"
	"errors"
	"time"

	"github.com/creditrun/creditrun/scheduler"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// schedule is the scheduler's cron entries. Each is idempotent, so any number
// of schedulers may run them at once.
func (a *app) schedule() ([]scheduler.Entry, error) {
	refresher, err := scheduler.NewRefresher(scheduler.RefresherConfig{Ledger: a.ledger, Accounts: a.store, Catalog: a.catalog})
	if err != nil {
		return nil, err
	}
	reaper, err := scheduler.NewReaper(scheduler.ReaperConfig{Ledger: a.ledger, Tasks: a.tasks, Jobs: a.svc, Queue: worker.QueueName})
	if err != nil {
		return nil, err
	}
	expirer, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: a.ledger, Jobs: a.svc, ResultTTL: a.cfg.ResultTTL})
	if err != nil {
		return nil, err
	}
	entries := []scheduler.Entry{
		// Periods end at each plan's own boundaries; a sweep every minute
		// refreshes the pools whose period has ended, once per period.
		{Name: "refresh", Spec: "@every 1m", RunFunc: func(ctx context.Context, now time.Time) error {
			applied, err := refresher.Sweep(ctx, now)
			if applied > 0 {
				a.log.Info("scheduler: refreshed pools", "applied", applied)
			}
			return err
		}},
		// Reservations stranded by a task asynq archived or lost, or by a
		// job past its deadline, are voided and their jobs failed.
		{Name: "reap", Spec: "@every 1m", RunFunc: func(ctx context.Context, now time.Time) error {
			reaped, err := reaper.Reap(ctx, now)
			if reaped > 0 {
				a.log.Info("scheduler: reaped stranded reservations", "reaped", reaped)
			}
			return err
		}},
		// Result files go once CREDITRUN_RESULT_TTL has passed since their
		// job finished; the job says when.
		{Name: "expire", Spec: "@every 10m", RunFunc: func(ctx context.Context, now time.Time) error {
			expired, err := expirer.Expire(ctx, now)
			if expired > 0 {
				a.log.Info("scheduler: expired result files", "jobs", expired)
			}
			return err
		}},
		// Paying a hold and re-tagging its files are two steps; this heals
		// a crash between them, and the global hold index with it.
		{Name: "heal", Spec: "@every 5m", RunFunc: func(ctx context.Context, _ time.Time) error {
			healed, err := a.svc.HealTags(ctx)
			if healed > 0 {
				a.log.Info("scheduler: re-tagged result files", "files", healed)
			}
			return errors.Join(err, a.ledger.ReindexHolds(ctx))
		}},
	}
	if s3, ok := a.storage.(*storage.S3); ok {
		// A failed upload aborts its multipart upload; this sweeps what a
		// crash left behind.
		entries = append(entries, scheduler.Entry{Name: "abort-uploads", Spec: "@hourly", RunFunc: func(ctx context.Context, now time.Time) error {
			_, err := s3.AbortUploads(ctx, "results/", now.Add(-24*time.Hour))
			return err
		}})
	}
	return entries, nil
}

// runScheduler runs the cron entries until ctx ends.
func (a *app) runScheduler(ctx context.Context) error {
	entries, err := a.schedule()
	if err != nil {
		return err
	}
	return scheduler.Run(ctx, entries, time.Now, a.log)
}

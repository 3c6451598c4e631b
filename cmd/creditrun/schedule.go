package main

import (
	"context"
	"errors"
	"fmt"
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
	reaper, err := scheduler.NewReaper(scheduler.ReaperConfig{Ledger: a.ledger, Tasks: a.tasks, Jobs: a.svc, Queue: worker.QueueName,
		Grace: a.cfg.ReaperGrace})
	if err != nil {
		return nil, err
	}
	expirer, err := scheduler.NewExpirer(scheduler.ExpirerConfig{Accounts: a.ledger, Jobs: a.svc, ResultTTL: a.cfg.ResultTTL})
	if err != nil {
		return nil, err
	}
	trimmer, err := scheduler.NewJournalTrimmer(scheduler.JournalTrimmerConfig{Ledger: a.ledger, Retention: a.cfg.JournalRetention})
	if err != nil {
		return nil, err
	}
	entries := []scheduler.Entry{
		// Periods end at each plan's own boundaries, and grants at their
		// expiry. Every call that meets an ended period (or a grant past
		// its expiry) deals with it first; for the pools no call touches,
		// a look every second at the earliest end in the index sweeps as
		// soon as one has come, so that each refresh (once per period)
		// and each expiry is journaled within about a second.
		{Name: "refresh", Spec: "@every 1s", Did: "refreshed pools", RunFunc: refresher.SweepDue},
		{Name: "expire-grants", Spec: "@every 1s", Did: "expired grants", RunFunc: refresher.ExpireDue},
		// Jobs stranded by a task asynq archived or lost, or past their
		// deadline, are failed and their credits released; reservations of
		// jobs that ended are voided.
		{Name: "reap", Spec: "@every 1m", Did: "reaped stranded jobs and reservations", RunFunc: reaper.Reap},
		// Result files go once CREDITRUN_RESULT_TTL has passed since their
		// job finished; the job says when.
		{Name: "expire", Spec: "@every 10m", Did: "expired the result files of jobs", RunFunc: expirer.Expire},
		// Paying a hold and re-tagging its files are two steps; this heals
		// a crash between them, and the global hold index with it. Holds
		// older than a job record's life have no files left to tag.
		{Name: "heal", Spec: "@every 5m", Did: "re-tagged result files", RunFunc: func(ctx context.Context, now time.Time) (int, error) {
			healed, err := a.svc.HealTags(ctx, now.Add(-(a.cfg.ResultTTL + recordsOutliveFiles)))
			return healed, errors.Join(err, a.ledger.ReindexHolds(ctx))
		}},
		// A crash between opening a pool and indexing its period would keep
		// the pool out of every sweep; this puts missing entries back.
		{Name: "reindex", Spec: "@every 15m", Did: "indexed pools missing from the period index", RunFunc: func(ctx context.Context, _ time.Time) (int, error) {
			return a.ledger.ReindexPeriods(ctx)
		}},
		// Journals stay within CREDITRUN_JOURNAL_RETENTION: once a day each
		// account gets a checkpoint and loses the entries before the newest
		// checkpoint older than the retention.
		{Name: "trim-journals", Spec: "30 3 * * *", Did: "trimmed journal entries", RunFunc: trimmer.Trim},
	}
	if s3, ok := a.storage.(*storage.S3); ok {
		// A failed upload aborts its multipart upload; this sweeps what a
		// crash left behind.
		entries = append(entries, scheduler.Entry{Name: "abort-uploads", Spec: "@hourly", Did: "aborted multipart uploads", RunFunc: func(ctx context.Context, now time.Time) (int, error) {
			return s3.AbortUploads(ctx, "results/", now.Add(-24*time.Hour))
		}})
	}
	return entries, nil
}

// runScheduler runs the cron entries until ctx ends. Its process exports
// the job queue's metrics as well: the queue is the cluster's, and one role
// exporting it keeps dashboards from summing copies.
func (a *app) runScheduler(ctx context.Context) error {
	entries, err := a.schedule()
	if err != nil {
		return err
	}
	if err := a.registry.Register(worker.NewQueueCollector(a.tasks)); err != nil {
		return fmt.Errorf("queue metrics: %w", err)
	}
	return scheduler.Run(ctx, entries, scheduler.RunOptions{NowFunc: a.now, Logger: a.log, Registerer: a.registry})
}

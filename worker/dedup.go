package worker

import (
	"context"
	"fmt"

	"github.com/creditrun/creditrun/jobs"
)

// stageBatch is how many record ids of a dedup job a run gathers before it
// stages them in the ledger.
const stageBatch = 1000

// dedupIDs gathers the ids of the records a dedup job delivers, which its
// settle charges: up to stageBatch in memory, and past that staged in the
// ledger a batch at a time (Service.StageRecords), so that a download of
// millions of records holds one batch of ids, not all of them.
type dedupIDs struct {
	r       *run
	on      bool // a dedup job settled at the end (not charged at acceptance)
	ids     []string
	staged  int64 // distinct ids staged so far
	flushed bool  // whether any were staged
}

// add gathers one record's id, when the job charges by them.
func (d *dedupIDs) add(ctx context.Context, id string) error {
	if !d.on {
		return nil
	}
	d.ids = append(d.ids, id)
	if len(d.ids) >= stageBatch {
		return d.flush(ctx)
	}
	return nil
}

// flush stages the ids gathered.
func (d *dedupIDs) flush(ctx context.Context) error {
	j := d.r.job
	n, err := d.r.h.cfg.Service.StageRecords(ctx, j.Account, j.ID, j.Attempts, d.ids)
	if err != nil {
		return fmt.Errorf("stage the records' ids: %w", err)
	}
	d.staged += n
	d.flushed = true
	d.ids = d.ids[:0]
	return nil
}

// finish puts the ids in o for the settle: inline when they never filled a
// batch, as the attempt's stage otherwise.
func (d *dedupIDs) finish(ctx context.Context, o *jobs.Outcome) error {
	if !d.on {
		return nil
	}
	if !d.flushed {
		o.RecordIDs = d.ids
		return nil
	}
	if len(d.ids) > 0 {
		if err := d.flush(ctx); err != nil {
			return err
		}
	}
	o.StagedAttempt, o.StagedRecords = d.r.job.Attempts, d.staged
	return nil
}

// drop drops what a failed run staged, so that its stage does not wait for
// its TTL; a failure to is only logged.
func (d *dedupIDs) drop(ctx context.Context) {
	if !d.flushed {
		return
	}
	j := d.r.job
	if err := d.r.h.cfg.Service.DropStaged(context.WithoutCancel(ctx), j.Account, j.ID, j.Attempts); err != nil {
		d.r.h.cfg.Logger.Warn("drop the staged record ids of a failed attempt", "job", j.ID, "attempt", j.Attempts, "err", err)
	}
}

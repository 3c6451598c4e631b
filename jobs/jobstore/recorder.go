package jobstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Recorder writes a job's record in the round trip of its reservation
// (jobs.Recorder): the ledger's reserve script, then the store's create
// script guarded by the reservation, in one pipeline on the account's hash
// slot. The ledger stays the only writer of credit state; the record is
// written only while the reservation is the one it was built for.
type Recorder struct {
	Ledger *ledger.Redis
	Store  *Redis
}

var _ jobs.Recorder = Recorder{}

// ReserveAndCreate implements jobs.Recorder.
func (rc Recorder) ReserveAndCreate(ctx context.Context, req credit.ReserveRequest, expect credit.Reservation, j jobs.Job, items []map[string]any) (credit.Reservation, string, error) {
	expect.State = credit.Reserved
	key, guard := rc.Ledger.ReservationGuard(req.Account, req.JobID, expect)
	create, err := rc.Store.PrepareCreate(j, items, key, guard)
	if err != nil {
		// Refused before anything was sent: the caller's own create
		// reports it after a plain reserve.
		r, err := rc.Ledger.Reserve(ctx, req)
		return r, "", err
	}
	r, err := rc.Ledger.ReserveThen(ctx, req, func(pipe redis.Pipeliner) { create.Send(ctx, pipe) })
	if err != nil {
		return r, "", err
	}
	// Any failure of the create (the reservation is another, the script
	// not loaded yet) leaves the record to the caller: no revision.
	rev := ""
	if create.Err() == nil {
		rev = create.Rev()
	}
	return r, rev, nil
}

// SettleAndUpdate implements jobs.Recorder.
func (rc Recorder) SettleAndUpdate(ctx context.Context, req credit.SettleRequest, expect credit.Reservation, j jobs.Job, from []jobs.Status, fn func(*jobs.Job)) (credit.Reservation, jobs.Job, bool, error) {
	expect.State = credit.Settled
	key, guard := rc.Ledger.ReservationGuard(req.Account, req.JobID, expect)
	update, err := rc.Store.PrepareUpdate(j, from, key, guard, fn)
	if err != nil {
		// Nothing to write from (no revision, or the job has ended): the
		// caller's own update reads the record after a plain settle.
		r, err := rc.Ledger.Settle(ctx, req)
		return r, jobs.Job{}, false, err
	}
	r, err := rc.Ledger.SettleThen(ctx, req, func(pipe redis.Pipeliner) { update.Send(ctx, pipe) })
	if err != nil {
		return r, jobs.Job{}, false, err
	}
	// Any failure of the write (the settlement is another, the record
	// changed) leaves it to the caller: not ok.
	done, werr := update.Result()
	return r, done, werr == nil, nil
}

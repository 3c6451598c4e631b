package ledger

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Refund gives back, exactly once, all that a settled job was charged (by a
// settle, or at acceptance), for a job that will not show its work: its
// prepaid posting, journaled as a refund with reason and the job id; its
// overage, by waiving its hold while unpaid (a hold paid meanwhile stays
// paid and is marked refund due, money for finance to pay back); and the
// record ids it was the first to charge, so that dedup charges them again
// later. A charge of an earlier period comes back as allocation of the
// current one, since that period's used count is gone.
//
// The refund is keyed by the job: refunding a refunded job returns it
// unchanged, so a retry after a lost reply moves nothing twice. The job
// leaves the charges set (MarkRefundDue) in the same script. A voided
// reservation comes back as it is: nothing was charged.
//
// Returns credit.ErrReservationOpen for a reservation that is still open (void
// it instead), credit.ErrReservationNotFound, and credit.ErrInvalidID; on
// any error nothing changed.
func (l *Redis) Refund(ctx context.Context, account, job, reason string) (credit.Reservation, error) {
	if err := checkIDs("account", account, "job", job); err != nil {
		return credit.Reservation{}, err
	}
	pool, err := l.client.HGet(ctx, l.keys.reservation(account, job), "pool").Result()
	switch {
	case isNil(err):
		// Gone (never made, or past its retention): nothing to give back,
		// and nothing left to watch.
		if err := l.DropCharge(ctx, account, job); err != nil {
			return credit.Reservation{}, err
		}
		return credit.Reservation{}, fmt.Errorf("refund %s: %w", job, credit.ErrReservationNotFound)
	case err != nil:
		return credit.Reservation{}, fmt.Errorf("refund %s: %w", job, err)
	}
	holdID := credit.HoldIDFor(job)
	code, rest, err := l.runPool(ctx, account, pool, refundScript, []string{
		l.keys.account(account), l.keys.pool(account, pool), l.keys.reservation(account, job),
		l.keys.journal(account), l.keys.charges(account), l.keys.dedup(account, pool),
		l.keys.jobRecords(account, job), l.keys.hold(account, holdID), l.keys.grants(account),
	}, l.now().UnixMilli(), reason, pool, job)
	if err != nil {
		return credit.Reservation{}, fmt.Errorf("refund %s: %w", job, err)
	}
	switch code {
	case "OK":
	case "OPEN":
		return credit.Reservation{}, fmt.Errorf("refund %s: %w", job, credit.ErrReservationOpen)
	default:
		return credit.Reservation{}, fmt.Errorf("refund %s: %w", job, codeError(code, rest))
	}
	r := parseReservation(account, job, fields(rest))
	if r.HoldID != "" {
		// The hold may have moved from unpaid to waived: its status index
		// follows, now or at the next ReindexHolds.
		if h, err := l.Hold(ctx, r.HoldID); err == nil {
			pipe := l.client.Pipeline()
			l.indexHoldStatus(ctx, pipe, redis.Z{Score: float64(unixMilli(h.CreatedAt)), Member: h.ID}, h.Status)
			_, _ = pipe.Exec(ctx)
		}
	}
	return r, nil
}

// MarkRefundDue records, before a job is failed, that its charge is to be
// refunded, so that a crash between failing the job and refunding it leaves
// a mark the reaper finds (OldCharges). Marking twice is harmless; Refund
// and DropCharge remove the mark.
func (l *Redis) MarkRefundDue(ctx context.Context, account, job string) error {
	if err := checkIDs("account", account, "job", job); err != nil {
		return err
	}
	if err := l.client.ZAdd(ctx, l.keys.charges(account), redis.Z{Score: float64(l.now().UnixMilli()), Member: job}).Err(); err != nil {
		return fmt.Errorf("mark refund of %s: %w", job, err)
	}
	return nil
}

// DropCharge removes a job from the charges set, once its charge is known to
// stand (its job was recorded and kept it). Dropping one that is not there
// is harmless.
func (l *Redis) DropCharge(ctx context.Context, account, job string) error {
	if err := checkIDs("account", account, "job", job); err != nil {
		return err
	}
	if err := l.client.ZRem(ctx, l.keys.charges(account), job).Err(); err != nil {
		return fmt.Errorf("drop charge of %s: %w", job, err)
	}
	return nil
}

// OldCharges yields the jobs of the charges sets, across every account,
// added before the given time, with their reservations (a reservation that
// is gone comes back with its account and job id only, and no state): the
// charges posted at acceptance whose job the reaper has not yet seen
// recorded, and the settled charges of jobs being abandoned whose refund a
// crash may have cut short. It walks the accounts a page at a time, as
// OldReservations does, and may yield one twice. A failure to read ends the
// sequence with its error.
func (l *Redis) OldCharges(ctx context.Context, before time.Time) iter.Seq2[credit.Reservation, error] {
	return l.scoredBefore(ctx, before, l.keys.charges, nil, "old charges")
}

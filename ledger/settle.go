package ledger

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Settle posts a job's true cost against its reservation, exactly once: the
// prepaid part first, the part beyond it as overage debt with a hold on the
// job's results, and the rest released. For a dedup reservation,
// req.RecordIDs name the records delivered or matched, one per credit of
// cost; only those the pool never charged before are posted, so the posted
// cost may be lower, and cost itself may exceed the reservation as long as
// the records not charged before do not. With req.Staged, the records are
// those StageRecords staged for that attempt, and the stage goes once
// settled.
//
// Settling a settled reservation returns it unchanged, whatever the cost.
// Returns credit.ErrAlreadyVoided for a voided one and
// credit.ErrAlreadyRefunded for a refunded one;
// credit.ErrReservationNotFound; credit.ErrReservationConflict when the job
// reserved from another pool; errors wrapping credit.ErrCostExceedsReserved,
// credit.ErrInvalidAmount or credit.ErrInvalidID. On any error nothing
// changed.
func (l *Redis) Settle(ctx context.Context, req credit.SettleRequest) (credit.Reservation, error) {
	return l.SettleThen(ctx, req, nil)
}

// SettleThen is Settle with more of the caller's writes in the same round
// trip, sent after the settle's script, as ReserveThen sends them after the
// reserve's: guarded by the caller (ReservationGuard), safe to run twice,
// covered by the WAIT of Options.WaitReplicas. A nil then is Settle.
func (l *Redis) SettleThen(ctx context.Context, req credit.SettleRequest, then func(redis.Pipeliner)) (credit.Reservation, error) {
	a, job := req.Account, req.JobID
	if err := checkIDs("account", a, "pool", req.Pool, "job", job); err != nil {
		return credit.Reservation{}, err
	}
	if req.Cost < 0 || req.Cost > credit.MaxAmount {
		return credit.Reservation{}, fmt.Errorf("settle %s: cost %d: %w", job, req.Cost, credit.ErrCostExceedsReserved)
	}
	if req.Staged < 0 || (req.Staged > 0 && len(req.RecordIDs) > 0) {
		return credit.Reservation{}, fmt.Errorf("settle %s: staged attempt %d with %d record ids: %w", job, req.Staged, len(req.RecordIDs), credit.ErrInvalidAmount)
	}
	holdID := credit.HoldIDFor(job)
	args := make([]any, 0, 8+len(req.RecordIDs))
	args = append(args, req.Cost, l.now().UnixMilli(), holdID, req.Pool, a, job, l.retainEnded.Milliseconds(), flag(req.Staged > 0))
	for _, id := range req.RecordIDs {
		args = append(args, id)
	}
	code, rest, err := l.runPoolThen(ctx, a, req.Pool, settleScript, then, []string{
		l.keys.account(a), l.keys.pool(a, req.Pool), l.keys.reservation(a, job), l.keys.pending(a),
		l.keys.journal(a), l.keys.dedup(a, req.Pool), l.keys.hold(a, holdID), l.keys.holds(a),
		l.keys.stage(a, job, req.Staged), l.keys.jobRecords(a, job), l.keys.grants(a), l.keys.outbox(a),
	}, args...)
	if err != nil {
		return credit.Reservation{}, fmt.Errorf("settle %s: %w", job, err)
	}
	if code != "OK" {
		return credit.Reservation{}, fmt.Errorf("settle %s: %w", job, codeError(code, rest))
	}
	// The reply is the hash as the script read it and, once settled, the
	// fields it wrote over it.
	r := parseReservation(a, job, mergedFields(rest))
	// Indexed after every settle call, the first and the repeated ones, so a
	// crash between the script and the index heals on redelivery.
	if err := l.indexHold(ctx, r); err != nil {
		return r, err
	}
	return r, nil
}

// Void releases everything a job holds, for a job that failed or was
// canceled, with reason in the journal. Voiding a voided reservation returns
// it unchanged. Returns credit.ErrAlreadySettled for a settled reservation
// (and for one posted at acceptance, whose charge stands),
// credit.ErrAlreadyRefunded for a refunded one;
// credit.ErrReservationNotFound; credit.ErrReservationConflict when the job
// reserved from another pool. On any error nothing changed.
func (l *Redis) Void(ctx context.Context, account, pool, job, reason string) (credit.Reservation, error) {
	if err := checkIDs("account", account, "pool", pool, "job", job); err != nil {
		return credit.Reservation{}, err
	}
	code, rest, err := l.runPool(ctx, account, pool, voidScript, []string{
		l.keys.account(account), l.keys.pool(account, pool), l.keys.reservation(account, job),
		l.keys.pending(account), l.keys.journal(account), l.keys.grants(account),
	}, l.now().UnixMilli(), reason, pool, job, l.retainEnded.Milliseconds())
	if err != nil {
		return credit.Reservation{}, fmt.Errorf("void %s: %w", job, err)
	}
	if code != "OK" {
		return credit.Reservation{}, fmt.Errorf("void %s: %w", job, codeError(code, rest))
	}
	return parseReservation(account, job, fields(rest)), nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// maxItemIDLen bounds one enrichment item's record id.
const maxItemIDLen = 1024

// Reserve holds credits for one job under the request's shortfall policy, in
// one script, so that no two concurrent reservations take the same credit. A
// plan that charges at acceptance posts instead, and the reservation comes
// back settled. Reserving a job id that has a reservation returns that one
// unchanged, whatever its state.
//
// Returns a *credit.InsufficientError (with nothing reserved) when the policy
// refuses the shortfall; credit.ErrOverageDisabled for the overage policy on a
// pool without overage; credit.ErrUnknownAccount, credit.ErrUnknownPool;
// credit.ErrReservationConflict when the job id was reserved with another pool
// or amount; errors wrapping credit.ErrInvalidID, credit.ErrInvalidAmount or
// credit.ErrInvalidPolicy for bad input. On any error nothing changed.
func (l *Redis) Reserve(ctx context.Context, req credit.ReserveRequest) (credit.Reservation, error) {
	return l.ReserveThen(ctx, req, nil)
}

// ReserveThen is Reserve with more of the caller's writes in the same round
// trip: then adds commands on keys of the account's hash slot to a pipeline
// after the reserve's script, and they run right after it, whatever it
// answers. They are the caller's to guard: a write that stands for the
// reservation checks it in its own script (ReservationGuard). When the pool's
// period has ended, the pool is rolled and the pipeline sent again, then's
// commands with it, so they must be safe to run twice, as anything sent to
// Redis must be. With Options.WaitReplicas the pipeline ends with the WAIT,
// which then covers then's writes too. A nil then is Reserve.
func (l *Redis) ReserveThen(ctx context.Context, req credit.ReserveRequest, then func(redis.Pipeliner)) (credit.Reservation, error) {
	if err := checkReserve(req); err != nil {
		return credit.Reservation{}, err
	}
	a, job := req.Account, req.JobID
	holdID := credit.HoldIDFor(job)
	cond := req.Condition
	condKey := l.keys.account(a)
	if cond.Set() {
		condKey = cond.Key
	}
	args := make([]any, 0, 14+len(req.ItemIDs))
	args = append(args, a, req.Pool, job, req.Requested, string(req.Policy), flag(req.Dedup),
		flag(req.ChargeAtAcceptance), l.now().UnixMilli(), holdID, flag(req.ItemIDs != nil),
		l.retainEnded.Milliseconds(), flag(cond.Set()), cond.Field, cond.Value)
	for _, id := range req.ItemIDs {
		args = append(args, id)
	}
	code, rest, err := l.runPoolThen(ctx, a, req.Pool, reserveScript, then, []string{
		l.keys.account(a), l.keys.pool(a, req.Pool), l.keys.reservation(a, job), l.keys.pending(a),
		l.keys.journal(a), l.keys.dedup(a, req.Pool), l.keys.hold(a, holdID), l.keys.holds(a),
		l.keys.jobRecords(a, job), l.keys.charges(a), l.keys.grants(a), l.keys.activeGrants(a, req.Pool),
		l.keys.outbox(a), condKey,
	}, args...)
	if err != nil {
		return credit.Reservation{}, fmt.Errorf("reserve %s: %w", job, err)
	}
	if code != "OK" {
		err := codeError(code, rest)
		if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
			ie.Pool = req.Pool
			return credit.Reservation{}, ie
		}
		return credit.Reservation{}, fmt.Errorf("reserve %s: %w", job, err)
	}
	r := parseReservation(a, job, fields(rest))
	if err := l.indexHold(ctx, r); err != nil {
		return r, err
	}
	return r, nil
}

// ReservationGuard names the hash of a job's reservation and the field
// values it has while the reservation is as r says, for a write of the
// caller's that stands for it (ReserveThen, SettleThen), checked in the
// script that writes. For an open reservation (r.State Reserved): its pool,
// the records requested and to process, the prepaid and overage credits held, the items
// skipped. For a settled one: the cost posted, the credits released and the
// overage posted. A value of "" stands for a field the hash leaves out
// (zero). The key lives in the account's hash slot. r of another state
// guards nothing that can hold: its state.
func (l *Redis) ReservationGuard(account, job string, r credit.Reservation) (key string, fieldValues []string) {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	nonzero := func(n int64) string {
		if n == 0 {
			return ""
		}
		return itoa(n)
	}
	fv := []string{"state", string(r.State)}
	switch r.State {
	case credit.Reserved:
		fv = append(fv, "pool", r.Pool, "requested", itoa(r.Requested), "processed", itoa(r.Processed), "prepaid", itoa(r.Prepaid),
			"overage", nonzero(r.Overage), "skipped", nonzero(r.Skipped))
	case credit.Settled:
		fv = append(fv, "total_cost", itoa(r.TotalCost), "released", itoa(r.Released), "overage_posted", itoa(r.OveragePosted))
	}
	return l.keys.reservation(account, job), fv
}

func checkReserve(req credit.ReserveRequest) error {
	if err := checkIDs("account", req.Account, "pool", req.Pool, "job", req.JobID); err != nil {
		return err
	}
	if err := credit.CheckAmount("requested", req.Requested); err != nil {
		return err
	}
	if !req.Policy.Valid() {
		return fmt.Errorf("%w: %q", credit.ErrInvalidPolicy, req.Policy)
	}
	if c := req.Condition; c.Set() && (hashTag(c.Key) != "a:"+req.Account || c.Field == "") {
		return fmt.Errorf("condition on %q field %q: not a key of account %s's hash slot, or no field: %w",
			c.Key, c.Field, req.Account, credit.ErrInvalidID)
	}
	if req.ItemIDs != nil {
		if int64(len(req.ItemIDs)) != req.Requested {
			return fmt.Errorf("requested %d with %d items: %w", req.Requested, len(req.ItemIDs), credit.ErrInvalidAmount)
		}
		for i, id := range req.ItemIDs {
			if len(id) > maxItemIDLen {
				return fmt.Errorf("item %d: record id longer than %d bytes: %w", i, maxItemIDLen, credit.ErrInvalidID)
			}
		}
	}
	return nil
}

// Reservation returns one job's reservation. Returns
// credit.ErrReservationNotFound when the job has none.
func (l *Redis) Reservation(ctx context.Context, account, job string) (credit.Reservation, error) {
	if err := checkIDs("account", account, "job", job); err != nil {
		return credit.Reservation{}, err
	}
	m, err := l.client.HGetAll(ctx, l.keys.reservation(account, job)).Result()
	if err != nil {
		return credit.Reservation{}, fmt.Errorf("reservation %s: %w", job, err)
	}
	if len(m) == 0 {
		return credit.Reservation{}, credit.ErrReservationNotFound
	}
	return parseReservation(account, job, m), nil
}

func parseReservation(account, job string, m map[string]string) credit.Reservation {
	r := credit.Reservation{
		Account:            account,
		Pool:               m["pool"],
		JobID:              job,
		State:              credit.ReservationState(m["state"]),
		Requested:          i64(m, "requested"),
		Skipped:            i64(m, "skipped"),
		Processed:          i64(m, "processed"),
		Prepaid:            i64(m, "prepaid"),
		Overage:            i64(m, "overage"),
		Remaining:          i64(m, "remaining"),
		Dedup:              m["dedup"] == "1",
		ChargeAtAcceptance: m["accept"] == "1",
		TotalCost:          i64(m, "total_cost"),
		Released:           i64(m, "released"),
		PrepaidPosted:      i64(m, "prepaid_posted"),
		OveragePosted:      i64(m, "overage_posted"),
		HoldID:             m["hold"],
		Refunded:           i64(m, "refunded"),
		OverageRefundDue:   i64(m, "overage_refund_due"),
		CreatedAt:          ms(m, "created_at"),
		EndedAt:            ms(m, "ended_at"),
		RefundedAt:         ms(m, "refunded_at"),
	}
	if p := m["period"]; p != "" && p != "0" {
		r.Period = ms(m, "period")
	}
	for part := range strings.SplitSeq(m["grants"], ",") {
		id, n, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		c, _ := strconv.ParseInt(n, 10, 64)
		r.FromGrants = append(r.FromGrants, credit.GrantPart{GrantID: id, Credits: c})
	}
	if k := m["kept"]; k != "" {
		r.Kept = make([]bool, len(k))
		for i := range len(k) {
			r.Kept[i] = k[i] == '1'
		}
	}
	return r
}

// hashTag is the part of key that Redis Cluster hashes: between its first
// '{' and the next '}', when that is not empty; the whole key otherwise.
func hashTag(key string) string {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return key
	}
	tag, _, ok := strings.Cut(rest, "}")
	if !ok || tag == "" {
		return key
	}
	return tag
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// HoldTag is the object tag that mirrors the overage hold of a result's job,
// storage.HoldTag (package storage imports jobs, so the name is repeated
// here; a test keeps the two equal). Its values are the hold's status
// (unpaid, paid, waived), or "none" for a job without a hold.
const HoldTag = "creditrun-hold"

// HoldNone is the value of HoldTag on the results of a job without a hold,
// storage.HoldNone.
const HoldNone = "none"

// MaxNoteLen is the longest payment reference or waive reason.
const MaxNoteLen = 500

// RetagError is returned with the hold by PayHold and WaiveHold when the
// hold was paid or waived but some of its job's result objects could not
// be re-tagged. The payment stands; HealTags sets the tags later.
type RetagError struct {
	HoldID string
	// Keys are the objects whose tag lags.
	Keys []string
	// Err joins the errors of Objects.
	Err error
}

func (e *RetagError) Error() string {
	return fmt.Sprintf("hold %s is closed, but %d result object(s) could not be re-tagged: %v", e.HoldID, len(e.Keys), e.Err)
}

func (e *RetagError) Unwrap() error { return e.Err }

// PayHold marks an overage hold paid with a payment reference (an invoice
// number), which clears its credits from the pool's overage debt in one
// journaled step, then tags every result object of the hold's job paid.
// Paying a paid hold changes nothing in the ledger and keeps the first
// reference; it tags the objects again.
//
// Returns a *FieldError ("payment_ref") for an empty or over-long
// reference; credit.ErrHoldNotFound or credit.ErrInvalidID for an unknown
// hold; an error wrapping credit.ErrHoldConflict for a waived hold. When
// the hold is paid but re-tagging fails, it returns the paid hold and a
// *RetagError: the payment succeeded.
func (s *Service) PayHold(ctx context.Context, id, paymentRef string) (credit.Hold, error) {
	if err := checkNote("payment_ref", paymentRef); err != nil {
		return credit.Hold{}, err
	}
	h, err := s.cfg.Ledger.PayHold(ctx, id, paymentRef)
	if err != nil {
		return credit.Hold{}, err
	}
	return h, s.retag(ctx, h)
}

// WaiveHold marks an overage hold waived with a reason, which clears its
// credits from the pool's overage debt in one journaled step, then tags
// every result object of the hold's job waived. Waiving a waived hold
// changes nothing in the ledger; it tags the objects again.
//
// Returns a *FieldError ("reason") for an empty or over-long reason;
// credit.ErrHoldNotFound or credit.ErrInvalidID for an unknown hold; an
// error wrapping credit.ErrHoldConflict for a paid hold. When the hold is
// waived but re-tagging fails, it returns the waived hold and a
// *RetagError.
func (s *Service) WaiveHold(ctx context.Context, id, reason string) (credit.Hold, error) {
	if err := checkNote("reason", reason); err != nil {
		return credit.Hold{}, err
	}
	h, err := s.cfg.Ledger.WaiveHold(ctx, id, reason)
	if err != nil {
		return credit.Hold{}, err
	}
	return h, s.retag(ctx, h)
}

func checkNote(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fieldErr(field, "is required")
	case len(v) > MaxNoteLen:
		return fieldErr(field, "must be at most %d bytes", MaxNoteLen)
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fieldErr(field, "must not hold control characters")
	}
	return nil
}

// ListHolds returns a page of holds, newest first, and the amount due over
// the unpaid holds the filter selects (due means unpaid). Returns an error wrapping
// credit.ErrInvalidCursor, credit.ErrInvalidStatus, or credit.ErrInvalidID
// for a bad account.
func (s *Service) ListHolds(ctx context.Context, f credit.HoldFilter) (credit.HoldPage, error) {
	return s.cfg.Ledger.ListHolds(ctx, f)
}

// EachHold calls fn with every hold the filter selects by status and
// account, newest first, reading them a chunk at a time, and stops at fn's
// first error. Returns an error wrapping credit.ErrInvalidStatus or
// credit.ErrInvalidID before fn is called.
func (s *Service) EachHold(ctx context.Context, f credit.HoldFilter, fn func(credit.Hold) error) error {
	return s.cfg.Ledger.EachHold(ctx, f, fn)
}

// HealTags makes the result objects of every job that finished at or after
// since carry the tag its hold state asks for, where the two may disagree:
//   - the objects of a paid or waived hold opened since then carry its
//     status. Paying and re-tagging are two steps, so a crash or a storage
//     failure between them, or a task delivered again that rewrote its files
//     tagged unpaid, leaves a tag that lags;
//   - the objects of a job that reserved overage and owes none carry
//     "none". Such a job writes its files tagged unpaid, since what it owes
//     is known only at settlement, and its worker re-tags them after; a
//     worker that dies between the two, or a failed re-tag, would leave
//     paid-for results locked.
//
// Objects of other jobs are written with the tag they keep. The scheduler
// passes as since the age past which a job's record, and so its files, are
// gone: older jobs have nothing to tag. It is idempotent and safe to run
// from several schedulers at once.
//
// When Objects can read tags (TagReader), only lagging tags are written
// and healed counts them; otherwise every object of such a job is tagged
// again and counted. PayHold and WaiveHold tag the same way. Jobs whose
// record has expired, and objects that are gone, are skipped. A failure on
// one object does not stop the pass: the errors are joined and returned
// with the count. With no Objects it does nothing.
func (s *Service) HealTags(ctx context.Context, since time.Time) (healed int, err error) {
	if s.cfg.Objects == nil {
		return 0, nil
	}
	var errs []error
	for h, err := range s.cfg.Ledger.RecentHolds(ctx, since) {
		if err != nil {
			return healed, fmt.Errorf("heal tags: %w", errors.Join(append(errs, err)...))
		}
		if h.Status == credit.HoldUnpaid {
			continue
		}
		n, err := s.tagHold(ctx, h)
		healed += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	n, err := s.healOverage(ctx, since)
	healed += n
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return healed, fmt.Errorf("heal tags: %w", err)
	}
	return healed, nil
}

// healPage is how many accounts one ResultsSince call covers.
const healPage = 500

// healOverage tags "none" the objects of the jobs finished since then that
// reserved overage, owe none and still have their files.
func (s *Service) healOverage(ctx context.Context, since time.Time) (int, error) {
	accounts, err := s.cfg.Ledger.Accounts(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	healed := 0
	for page := range slices.Chunk(accounts, healPage) {
		refs, err := s.cfg.Store.ResultsSince(ctx, page, since)
		if err != nil {
			return healed, errors.Join(append(errs, err)...)
		}
		for _, ref := range refs {
			j, err := s.cfg.Store.Get(ctx, ref.Account, ref.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				continue
			case err != nil:
				errs = append(errs, fmt.Errorf("job %s: %w", ref.ID, err))
				continue
			case j.Status != Succeeded || j.HoldID != "" || j.Meta.OverageReserved == 0:
				continue
			}
			n, err := s.tagJob(ctx, j, HoldNone)
			healed += n
			if err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
			}
		}
	}
	return healed, errors.Join(errs...)
}

// retag tags the results of a just closed hold's job, and returns a
// *RetagError for the objects it could not tag.
func (s *Service) retag(ctx context.Context, h credit.Hold) error {
	if s.cfg.Objects == nil {
		return nil
	}
	_, err := s.tagHold(ctx, h)
	return err
}

// tagHold sets the hold tag of every result object of h's job to h's
// status, and returns how many it set. A job whose record is gone has
// nothing left to tag; the hold's results may also not be recorded yet, when
// the hold was paid between the worker's settlement and its recording the
// job: HealTags tags them later.
func (s *Service) tagHold(ctx context.Context, h credit.Hold) (int, error) {
	j, err := s.cfg.Store.Get(ctx, h.Account, h.JobID)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, &RetagError{HoldID: h.ID, Err: fmt.Errorf("job %s: %w", h.JobID, err)}
	}
	n, err := s.tagJob(ctx, j, string(h.Status))
	if re, ok := errors.AsType[*RetagError](err); ok {
		re.HoldID = h.ID
	}
	return n, err
}

// tagJob sets the hold tag of every result object of j to want, and returns
// how many it set. When Objects can read tags, it writes only those that
// differ and keeps the other tags. It returns a *RetagError for the objects
// it could not tag.
func (s *Service) tagJob(ctx context.Context, j Job, want string) (int, error) {
	reader, canRead := s.cfg.Objects.(TagReader)
	missing := func(err error) bool { return err != nil && s.cfg.ObjectMissingFunc(err) }
	var set int
	var failed []string
	var errs []error
	for _, rf := range j.Results {
		tags := map[string]string{HoldTag: want}
		if canRead {
			cur, err := reader.Tags(ctx, rf.Key)
			if missing(err) {
				continue
			}
			if err != nil {
				failed, errs = append(failed, rf.Key), append(errs, fmt.Errorf("read tags of %s: %w", rf.Key, err))
				continue
			}
			if cur[HoldTag] == want {
				continue
			}
			for k, v := range cur {
				if k != HoldTag {
					tags[k] = v
				}
			}
		}
		err := s.cfg.Objects.SetTags(ctx, rf.Key, tags)
		switch {
		case missing(err):
		case err != nil:
			failed, errs = append(failed, rf.Key), append(errs, fmt.Errorf("tag %s: %w", rf.Key, err))
		default:
			set++
		}
	}
	if len(errs) > 0 {
		return set, &RetagError{HoldID: j.HoldID, Keys: failed, Err: errors.Join(errs...)}
	}
	return set, nil
}

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/oklog/ulid/v2"

	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source"
)

// Config is what a Service is built from.
type Config struct {
	Ledger   Ledger
	Store    Store
	Queue    Queue
	Accounts Accounts
	Catalog  *plan.Catalog
	// Recorder, when set, writes a submit's job record in the round trip
	// of its reservation, whenever the job's record can be known before
	// the reserve answers (no dedup, no charge at acceptance) and the
	// reservation is the whole request's. Nil records every job in a round
	// trip of its own after the reserve.
	Recorder Recorder
	// Limits bound requests. Defaults to DefaultLimits.
	Limits Limits
	// DataTypes reports which data types the source serves.
	DataTypes func(string) bool
	// Source, when set, is the dataset that workers match and search: a
	// submit then matches the items of an enrichment named by fields
	// against it when the pool dedups, so that an item whose record the
	// pool charged before is skipped at submit, and Quote counts and
	// matches with it. Nil keeps such items charged until the settle, and
	// Quote refuses (ErrNoSource).
	Source source.Source
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// PlansCacheTTL is how long an account's plans are kept in process.
	// Defaults to 5 seconds; a negative value turns the cache off.
	PlansCacheTTL time.Duration
	// NewIDFunc makes job ids. Defaults to "job_" and a ULID, so that ids
	// sort by creation time.
	NewIDFunc func() string
	// Objects re-tags a job's result objects when its hold is paid or
	// waived (see PayHold and HealTags). Defaults to nil: no re-tagging.
	Objects Objects
	// ObjectMissingFunc reports whether an error of Objects means that no
	// object is at the key (expired or deleted); re-tagging skips such
	// objects instead of failing. Defaults to reporting false for every
	// error.
	ObjectMissingFunc func(error) bool
}

// Service submits jobs, runs their life, and ties each to its credits: it
// reserves at submit, settles exactly once at completion, and voids on
// failure or cancel. The API calls its client side; workers call Start,
// Items, Progress, Complete and Fail.
type Service struct {
	cfg Config
	// plans keeps each account's subscription for a few seconds, sparing
	// a read of the account on every submit; nil when turned off.
	plans *expirable.LRU[string, *plan.Subscription]
}

// NewService returns a service on cfg.
func NewService(cfg Config) *Service {
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.NewIDFunc == nil {
		cfg.NewIDFunc = func() string { return "job_" + strings.ToLower(ulid.Make().String()) }
	}
	if cfg.ObjectMissingFunc == nil {
		cfg.ObjectMissingFunc = func(error) bool { return false }
	}
	if cfg.DataTypes == nil {
		cfg.DataTypes = func(string) bool { return true }
	}
	if cfg.PlansCacheTTL == 0 {
		cfg.PlansCacheTTL = 5 * time.Second
	}
	s := &Service{cfg: cfg}
	if cfg.PlansCacheTTL > 0 {
		s.plans = expirable.NewLRU[string, *plan.Subscription](10_000, nil, cfg.PlansCacheTTL)
	}
	return s
}

func (s *Service) now() time.Time { return s.cfg.NowFunc().UTC() }

var accountIDPattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// CreateAccount creates an account with its plans and opens the pools they
// fill, each with its first period starting now. An empty id generates one.
//
// The id is claimed first, then the pools are opened. A creation that failed
// in between (or whose answer was lost) is completed by a repeat with the
// same id, name and plans: it opens the pools still missing (opening a pool
// that exists changes nothing), with the periods of the account as first
// created, and returns the account as stored. A repeat with another name or
// other plans is refused.
//
// Returns a *FieldError for a bad id ("id") or plan list ("plans"), and
// ErrAccountExists when the id is taken by an account with another name or
// other plans.
func (s *Service) CreateAccount(ctx context.Context, id, name string, planIDs []string) (Account, error) {
	if id == "" {
		id = "acct_" + strings.ToLower(ulid.Make().String())
	}
	if !accountIDPattern.MatchString(id) {
		return Account{}, fieldErr("id", "must match [a-z0-9_-]{1,64}, got %q", id)
	}
	if len(planIDs) == 0 {
		return Account{}, fieldErr("plans", "is required: at least one plan")
	}
	sub, err := s.cfg.Catalog.Subscribe(planIDs)
	if err != nil {
		if errors.Is(err, plan.ErrUnknownPlan) {
			return Account{}, fieldErr("plans", "%v; the plans are %s", err, strings.Join(s.cfg.Catalog.IDs(), ", "))
		}
		return Account{}, fieldErr("plans", "%v", err)
	}
	a := Account{ID: id, Name: name, PlanIDs: planIDs, CreatedAt: s.now()}
	// Claim the id first; opening pools is idempotent.
	err = s.cfg.Accounts.CreateAccount(ctx, a)
	if errors.Is(err, ErrAccountExists) {
		a, err = s.sameAccount(ctx, a)
	}
	if err != nil {
		return Account{}, err
	}
	for _, p := range sub.Plans() {
		start, end := p.FirstPeriod(a.CreatedAt)
		if _, _, err := s.cfg.Ledger.OpenPool(ctx, id, p.PoolConfig(), start, end); err != nil {
			return Account{}, fmt.Errorf("open pool %s of %s: %w", p.Pool, id, err)
		}
	}
	return a, nil
}

// sameAccount returns the stored account of want's id when it has want's
// name and plans (a repeat of its creation), and an error wrapping
// ErrAccountExists when it has not.
func (s *Service) sameAccount(ctx context.Context, want Account) (Account, error) {
	got, err := s.cfg.Accounts.Account(ctx, want.ID)
	if err != nil {
		return Account{}, fmt.Errorf("create account %s: read the account that has the id: %w", want.ID, err)
	}
	if got.Name != want.Name || !slices.Equal(got.PlanIDs, want.PlanIDs) {
		return Account{}, fmt.Errorf("create account %s: %w with another name or other plans", want.ID, ErrAccountExists)
	}
	return got, nil
}

// Account returns an account. Returns ErrNotFound for an unknown id.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	return s.cfg.Accounts.Account(ctx, id)
}

// Submit validates a job, reserves its credits under the shortfall policy,
// records it and queues it. The job it returns is queued, with Meta set.
// With Config.Source, the items of an enrichment named by fields are
// matched first on a pool that dedups, so that those whose record the pool
// charged before are skipped now, as items named by record id are.
//
// Returns a *FieldError for a bad spec; ErrNotFound for an unknown account;
// an error wrapping ErrNotInPlan when no plan of the account covers the job;
// a *credit.InsufficientError or credit.ErrOverageDisabled when the credits
// refuse it. Any other error is a failure of the infrastructure, after which
// nothing stays charged: what was reserved is released, or, when even the
// job could not be marked failed, left to the reaper.
func (s *Service) Submit(ctx context.Context, account string, spec Spec) (Job, error) {
	return s.SubmitIf(ctx, account, spec, credit.Condition{})
}

// SubmitIf is Submit whose reserve holds credits only while cond holds,
// checked in the reserve's atomic step (credit.ReserveRequest.Condition).
// Returns an error wrapping credit.ErrConditionFailed, with nothing
// reserved or recorded, when it does not.
func (s *Service) SubmitIf(ctx context.Context, account string, spec Spec, cond credit.Condition) (Job, error) {
	if err := spec.Normalize(s.cfg.Limits, s.cfg.DataTypes); err != nil {
		return Job{}, err
	}
	sub, err := s.subscription(ctx, account)
	if err != nil {
		return Job{}, err
	}
	op := plan.Operation(spec.Kind)
	p, ok := sub.PoolFor(plan.DataType(spec.DataType), op)
	if !ok {
		return Job{}, fmt.Errorf("%w: %s of %s", ErrNotInPlan, spec.Kind, spec.DataType)
	}
	policy := spec.OnInsufficient
	if policy == "" {
		policy = p.OnInsufficient
	}
	id := s.cfg.NewIDFunc()
	req := credit.ReserveRequest{
		Account: account, Pool: p.Pool, JobID: id, Requested: spec.Requested(), Policy: policy,
		Dedup: p.Dedups(op), ChargeAtAcceptance: p.ChargesAtAcceptance(op), Condition: cond,
	}
	if spec.Kind == Enrichment {
		if req.ItemIDs, err = s.itemRecordIDs(ctx, spec, req.Dedup); err != nil {
			return Job{}, err
		}
	}
	var (
		r       credit.Reservation
		j       Job
		items   []map[string]any
		created bool
	)
	if s.cfg.Recorder != nil && !req.Dedup && !req.ChargeAtAcceptance {
		// The reservation expected is the whole request's, open: the job's
		// record is known before the reserve answers, and is written in
		// its round trip while the reservation is that one.
		expect := credit.Reservation{Pool: p.Pool, Requested: req.Requested, Processed: req.Requested, Prepaid: req.Requested}
		j, items = s.newJob(spec, req, expect)
		r, j.Rev, err = s.cfg.Recorder.ReserveAndCreate(ctx, req, expect, j, items)
		created = j.Rev != ""
	} else {
		r, err = s.cfg.Ledger.Reserve(ctx, req)
	}
	if err != nil {
		if isInfra(err) {
			// The script may have run with its reply lost: whatever it
			// took goes back now, or the reaper gives it back.
			s.release(ctx, req, "the job could not be recorded")
			s.unrecord(ctx, account, id)
		}
		return Job{}, err
	}
	if !created {
		j, items = s.newJob(spec, req, r)
		if err := s.cfg.Store.Create(ctx, j, items); err != nil {
			s.release(ctx, req, "the job could not be recorded")
			s.unrecord(ctx, account, id)
			return Job{}, fmt.Errorf("record job %s: %w", id, err)
		}
	}
	j.Meta.CreditsRemaining = r.Remaining
	if err := s.cfg.Queue.Enqueue(ctx, j); err != nil {
		// No worker holds the job, so nothing can settle it meanwhile: it is
		// marked failed first and its credits go back after. Should the mark
		// fail too, the job stays queued without a task, and the reaper
		// abandons it: it voids the reservation, or refunds a charge posted
		// at acceptance, since the job never started.
		_, uerr := s.cfg.Store.Update(context.WithoutCancel(ctx), account, id, []Status{Queued}, func(j *Job) {
			s.finish(j, Failed)
			j.Error = "The job could not be queued; nothing was charged."
		})
		if uerr == nil {
			s.release(ctx, req, "the job could not be queued")
		}
		return Job{}, fmt.Errorf("queue job %s: %w", id, err)
	}
	return j, nil
}

// newJob builds the record of a job submitted with spec under req, given
// its reservation r, and the enrichment items r kept.
func (s *Service) newJob(spec Spec, req credit.ReserveRequest, r credit.Reservation) (Job, []map[string]any) {
	j := Job{
		ID: req.JobID, Account: req.Account, Kind: spec.Kind, DataType: spec.DataType, Query: spec.Query,
		Format: spec.Format, MatchOn: spec.MatchOn, Pool: req.Pool, Status: Queued,
		NumRecords: r.Processed, CreditsReserved: r.Reserved(), Meta: MetaOf(r),
		Dedup: req.Dedup, ChargeAtAcceptance: req.ChargeAtAcceptance,
		Progress: Progress{Total: r.Processed}, CreatedAt: s.now(),
	}
	if r.State == credit.Settled { // posted at acceptance
		j.TotalCost, j.Overage, j.HoldID = r.TotalCost, r.OveragePosted, r.HoldID
	}
	var items []map[string]any
	if spec.Kind == Enrichment {
		j.Meta.TrackingIDToJobID = map[string]string{}
		for i, it := range spec.Items {
			if i < len(r.Kept) && !r.Kept[i] {
				continue
			}
			items = append(items, it)
			if tid, ok := it["tracking_id"].(string); ok {
				j.Meta.TrackingIDToJobID[tid] = req.JobID
			}
		}
	}
	return j, items
}

// subscription returns an account's plans, from the cache when it has them.
// An account's plans do not change once it exists. Returns ErrNotFound for
// an unknown account.
func (s *Service) subscription(ctx context.Context, account string) (*plan.Subscription, error) {
	if s.plans != nil {
		if sub, ok := s.plans.Get(account); ok {
			return sub, nil
		}
	}
	a, err := s.cfg.Accounts.Account(ctx, account)
	if err != nil {
		return nil, err
	}
	sub, err := s.cfg.Catalog.Subscribe(a.PlanIDs)
	if err != nil {
		return nil, fmt.Errorf("plans of account %s: %w", account, err)
	}
	if s.plans != nil {
		s.plans.Add(account, sub)
	}
	return sub, nil
}

// unrecord marks failed the record a submit may have written before its
// reply was lost, when the submit answers an error: the client, told it
// failed, is not shown a job queued without a task until the reaper ends
// it. Best effort: no record, or a failure, leaves it to the reaper.
func (s *Service) unrecord(ctx context.Context, account, id string) {
	_, _ = s.cfg.Store.Update(context.WithoutCancel(ctx), account, id, []Status{Queued}, func(j *Job) {
		s.finish(j, Failed)
		j.Error = "The job could not be recorded; nothing was charged."
	})
}

// release gives back what a submit took, or may have taken, when the job
// could not be recorded or queued: a reservation is voided, and a charge
// posted at acceptance, which cannot be voided, is refunded (Ledger.Refund:
// its posting, its hold, its record ids). Both are keyed by the job id, so
// repeating them, here or by the reaper, gives back nothing twice, and both
// do nothing when the reserve never ran. Should either fail, the reaper
// finishes it: an open reservation of a job that was never recorded or has
// ended is voided, and a charge posted at acceptance stays in the ledger's
// charges set until the reaper sees its job recorded and kept it
// (FinishCharge).
func (s *Service) release(ctx context.Context, req credit.ReserveRequest, reason string) {
	ctx = context.WithoutCancel(ctx)
	if req.ChargeAtAcceptance {
		_, _ = s.cfg.Ledger.Refund(ctx, req.Account, req.JobID, reason)
		return
	}
	_, _ = s.cfg.Ledger.Void(ctx, req.Account, req.Pool, req.JobID, reason)
}

// isInfra reports whether a ledger error is a failure of the infrastructure
// (Redis unreachable, a reply lost) rather than the ledger's answer.
func isInfra(err error) bool {
	if _, ok := errors.AsType[*credit.InsufficientError](err); ok {
		return false
	}
	for _, answer := range []error{credit.ErrOverageDisabled, credit.ErrUnknownAccount, credit.ErrUnknownPool,
		credit.ErrReservationConflict, credit.ErrInvalidID, credit.ErrInvalidAmount, credit.ErrInvalidPolicy,
		credit.ErrConditionFailed} {
		if errors.Is(err, answer) {
			return false
		}
	}
	return true
}

// FinishCharge settles the fate of a charge the reaper found in the ledger's
// charges set (a charge posted at acceptance, or a settled charge marked for
// refund by Abandon) once it is old enough that no submit or abandon is still
// at work on it:
//   - a job that was never recorded is refunded: the client was told it
//     failed (or never heard back), and no job will show the work;
//   - a job that failed keeping no charge (Job.ChargeStands) is refunded;
//   - a job that succeeded, was canceled, or failed keeping its charge keeps
//     it, and the mark goes;
//   - a job that has not ended is left alone: its own end, or the reaper's
//     Abandon, decides.
//
// It reports whether it refunded anything. Refunds are keyed by the job, so
// a charge refunded before is not refunded again.
func (s *Service) FinishCharge(ctx context.Context, account, id string) (bool, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.refund(ctx, account, id, "The job was never recorded.")
	case err != nil:
		return false, err
	case !j.Status.Terminal():
		return false, nil
	case !j.ChargeStands():
		return s.refund(ctx, account, id, "The job failed: "+j.Error)
	}
	return false, s.cfg.Ledger.DropCharge(ctx, account, id)
}

// refund refunds a job's charge and reports whether this call gave anything
// back. A reservation that is gone has nothing left to give.
func (s *Service) refund(ctx context.Context, account, id, reason string) (bool, error) {
	before, err := s.cfg.Ledger.Reservation(ctx, account, id)
	switch {
	case errors.Is(err, credit.ErrReservationNotFound):
		return false, s.cfg.Ledger.DropCharge(ctx, account, id)
	case err != nil:
		return false, err
	}
	r, err := s.cfg.Ledger.Refund(ctx, account, id, reason)
	if err != nil {
		return false, fmt.Errorf("refund %s: %w", id, err)
	}
	return before.State == credit.Settled && r.State == credit.Refunded, nil
}

func (s *Service) finish(j *Job, st Status) {
	now := s.now()
	j.Status = st
	j.FinishedAt = &now
}

// Get returns a job. Returns ErrNotFound for an unknown id, or one of
// another account.
func (s *Service) Get(ctx context.Context, account, id string) (Job, error) {
	return s.cfg.Store.Get(ctx, account, id)
}

// ActiveBefore returns the jobs of these accounts created before the given
// time that have not ended (queued or running): where the reaper looks for
// jobs whose task was lost.
func (s *Service) ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]JobRef, error) {
	return s.cfg.Store.ActiveBefore(ctx, accounts, before)
}

// List returns a page of an account's jobs, newest first, and the next
// page's cursor. Returns ErrInvalidCursor for a bad cursor.
func (s *Service) List(ctx context.Context, account string, f ListFilter) ([]Job, string, error) {
	return s.cfg.Store.List(ctx, account, f)
}

// Hold returns the job's overage hold, or nil when it has none.
func (s *Service) Hold(ctx context.Context, j Job) (*credit.Hold, error) {
	if j.HoldID == "" {
		return nil, nil
	}
	h, err := s.cfg.Ledger.Hold(ctx, j.HoldID)
	if err != nil {
		return nil, fmt.Errorf("hold of job %s: %w", j.ID, err)
	}
	return &h, nil
}

// Cancel cancels a queued or running job: it gives back what the job holds,
// marks the job canceled, and takes its task off the queue or stops it.
// Returns an error wrapping ErrEnded when the job has ended or is
// completing, and ErrNotFound.
//
// What goes back follows one rule: a job canceled before it started keeps
// no charge, the same as one the reaper abandons before it started.
//   - A reservation is voided. The ledger arbitrates a race with a worker
//     that completes the job: whichever of void and settle comes first wins.
//   - A charge posted at acceptance is refunded in full (Ledger.Refund: its
//     posting, its hold, its record ids) when the job never started, as
//     Abandon does: the refund is marked due in the ledger first, then the
//     job is marked canceled while still queued, then the refund is made,
//     keyed by the job, so that a repeat refunds nothing twice and a crash
//     between the steps leaves the mark for the reaper (FinishCharge). A
//     worker that starts the job meanwhile makes its charge stand.
//   - A charge posted at acceptance stands once the job has started: the
//     work was begun for it.
func (s *Service) Cancel(ctx context.Context, account, id string) (Job, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status.Terminal() {
		return Job{}, &StatusError{ID: id, Status: j.Status}
	}
	if j.ChargeAtAcceptance && j.Status == Queued && j.Attempts == 0 {
		canceled, err := s.cancelUnstarted(ctx, j)
		if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != Running {
			return canceled, err
		}
		// Started meanwhile: its charge stands, as for any running job,
		// and the reaper drops the mark once the job has ended.
	}
	var released int64
	if !j.ChargeAtAcceptance {
		r, err := s.cfg.Ledger.Void(ctx, account, j.Pool, id, "canceled by the client")
		if errors.Is(err, credit.ErrAlreadySettled) || errors.Is(err, credit.ErrAlreadyRefunded) {
			return Job{}, fmt.Errorf("job %s is completing or ending: %w", id, ErrEnded)
		}
		if err != nil {
			return Job{}, fmt.Errorf("cancel %s: %w", id, err)
		}
		released = r.Released
	}
	j, err = s.cfg.Store.Update(ctx, account, id, []Status{Queued, Running}, func(j *Job) {
		s.finish(j, Canceled)
		j.CreditsReleased = released
	})
	if err != nil {
		return Job{}, err
	}
	s.dequeue(ctx, j)
	return j, nil
}

// cancelUnstarted cancels j, charged at acceptance and not started, and
// refunds its charge. Returns a *StatusError when the job left Queued
// before it could be marked (a worker started it, or it ended), with
// nothing refunded.
func (s *Service) cancelUnstarted(ctx context.Context, j Job) (Job, error) {
	return s.endRefunded(ctx, j, "cancel", "canceled by the client before it started", func(refunded int64) (Job, error) {
		canceled, err := s.cfg.Store.Update(ctx, j.Account, j.ID, []Status{Queued}, func(j *Job) {
			s.finish(j, Canceled)
			j.CreditsReleased = refunded
		})
		if err == nil {
			s.dequeue(ctx, canceled)
		}
		return canceled, err
	})
}

// dequeue takes a canceled job's task off the queue, or stops it. The task
// may be left behind if this fails: a worker that starts it finds the job
// ended and drops it.
func (s *Service) dequeue(ctx context.Context, j Job) {
	_ = s.cfg.Queue.Cancel(context.WithoutCancel(ctx), j)
}

// Start marks a job running for a worker, again on a redelivery, and counts
// the attempt. Returns an error wrapping ErrEnded when the job has ended:
// the task has nothing left to do.
func (s *Service) Start(ctx context.Context, account, id string) (Job, error) {
	return s.StartJob(ctx, Job{Account: account, ID: id})
}

// StartJob is Start of the job j names (its Account and ID), from j.Rev when
// the caller has the revision Submit wrote (the job's task carries it): the
// job's record is then not read first, unless it changed since.
func (s *Service) StartJob(ctx context.Context, j Job) (Job, error) {
	return s.cfg.Store.UpdateFrom(ctx, j, []Status{Queued, Running}, Guard{}, func(j *Job) {
		if j.StartedAt == nil {
			now := s.now()
			j.StartedAt = &now
		}
		j.Status = Running
		j.Attempts++
	})
}

// Items returns the items of an enrichment that run, in request order.
func (s *Service) Items(ctx context.Context, account, id string) ([]map[string]any, error) {
	return s.cfg.Store.Items(ctx, account, id)
}

// Progress records how far a running job is.
func (s *Service) Progress(ctx context.Context, account, id string, p Progress) error {
	return s.cfg.Store.SetProgress(ctx, account, id, p)
}

// Outcome is what a worker reports when a job's work is done.
type Outcome struct {
	// Found is num_found: the records the query matched, or the items that
	// matched a record.
	Found int64
	// Delivered is the records written (search, download) or the items
	// matched (enrichment).
	Delivered int64
	// RecordIDs are the ids of the records delivered or matched; a dedup job
	// is charged by them, unless it staged them.
	RecordIDs []string
	// StagedAttempt, when above 0, is the attempt of a dedup job that staged
	// the ids of its records with StageRecords as it delivered them, instead
	// of RecordIDs; StagedRecords is how many distinct ids it staged.
	StagedAttempt int
	StagedRecords int64
	// Results are the result files of a download or an enrichment.
	Results []ResultFile
	// Records are a search's records, one JSON array.
	Records json.RawMessage
}

// StageRecords stages ids of records that attempt of a dedup job delivered,
// for its Complete to charge (Outcome.StagedAttempt), so that a job of
// millions of records need not hold their ids. It returns how many of ids
// were not staged by the attempt before.
func (s *Service) StageRecords(ctx context.Context, account, id string, attempt int, ids []string) (int64, error) {
	return s.cfg.Ledger.StageRecords(ctx, account, id, attempt, ids)
}

// DropStaged drops the record ids an attempt of a dedup job staged, for an
// attempt that failed.
func (s *Service) DropStaged(ctx context.Context, account, id string, attempt int) error {
	return s.cfg.Ledger.DropStaged(ctx, account, id, attempt)
}

// Cost is what a job's outcome costs: the records delivered, or the items
// matched. A plan that charges enrichment per submitted item posted its
// charge at acceptance, so this is not used for it.
func (o Outcome) Cost() int64 { return o.Delivered }

// Complete settles a job's true cost exactly once and marks it succeeded with
// its results. On a redelivery it settles nothing twice: the ledger answers
// the first settlement. Returns an error wrapping ErrEnded when the job was
// canceled or failed meanwhile; its results should then be dropped.
func (s *Service) Complete(ctx context.Context, account, id string, o Outcome) (Job, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	if err != nil {
		return Job{}, err
	}
	return s.CompleteJob(ctx, j, o)
}

// CompleteJob is Complete of j as its worker has it from Start: the job's
// record is not read again unless it changed since.
func (s *Service) CompleteJob(ctx context.Context, j Job, o Outcome) (Job, error) {
	account, id := j.Account, j.ID
	var err error
	if j.Status.Terminal() {
		return Job{}, &StatusError{ID: id, Status: j.Status}
	}
	var r credit.Reservation
	if j.ChargeAtAcceptance {
		r, err = s.cfg.Ledger.Reservation(ctx, account, id)
		if err == nil && r.State == credit.Refunded {
			// Refunded by the reaper (the job was taken for never
			// recorded, or abandoned): its results go with the charge.
			return Job{}, fmt.Errorf("job %s was refunded: %w", id, ErrEnded)
		}
	} else {
		req := credit.SettleRequest{Account: account, Pool: j.Pool, JobID: id, Cost: o.Cost()}
		switch {
		case j.Dedup && o.StagedAttempt > 0:
			req.Staged, req.Cost = o.StagedAttempt, o.StagedRecords
		case j.Dedup:
			req.RecordIDs = o.RecordIDs
			req.Cost = int64(len(o.RecordIDs))
		}
		if s.cfg.Recorder != nil && !j.Dedup && j.Meta.OverageReserved == 0 && req.Cost <= j.CreditsReserved && j.Rev != "" {
			// The settlement expected is the cost posted from what was
			// held, the rest released: the job's record is known before
			// the settle answers, and is written in its round trip while
			// the settlement is that one (and stands).
			expect := credit.Reservation{TotalCost: req.Cost, Released: j.CreditsReserved - req.Cost}
			var done Job
			var ok bool
			r, done, ok, err = s.cfg.Recorder.SettleAndUpdate(ctx, req, expect, j, []Status{Running}, s.succeed(o, expect))
			if err == nil && ok {
				return done, nil
			}
			// The record changed since Start, or the settlement is another
			// (a redelivery's): the write below reads the record again.
			j.Rev = ""
		} else {
			r, err = s.cfg.Ledger.Settle(ctx, req)
		}
		if errors.Is(err, credit.ErrAlreadyVoided) || errors.Is(err, credit.ErrAlreadyRefunded) {
			return Job{}, fmt.Errorf("job %s was voided or refunded: %w", id, ErrEnded)
		}
	}
	if err != nil {
		return Job{}, fmt.Errorf("complete %s: %w", id, err)
	}
	// The job succeeds only while the settlement stands: a settle that a
	// Redis losing acknowledged writes (fsync every second, a failover
	// without WAIT) lost after answering fails this update, and the next
	// delivery settles again. A charge at acceptance posted at submit.
	var guard Guard
	if !j.ChargeAtAcceptance {
		guard.Key, guard.Field, guard.Value = s.cfg.Ledger.SettledGuard(account, id)
	}
	return s.cfg.Store.UpdateFrom(ctx, j, []Status{Running}, guard, s.succeed(o, r))
}

// succeed returns the update that marks a job succeeded with outcome o,
// settled as r.
func (s *Service) succeed(o Outcome, r credit.Reservation) func(*Job) {
	return func(j *Job) {
		s.finish(j, Succeeded)
		j.NumFound = o.Found
		j.TotalCost, j.CreditsReleased, j.Overage, j.HoldID = r.TotalCost, r.Released, r.OveragePosted, r.HoldID
		j.Results, j.Records = o.Results, o.Records
		j.Progress = Progress{Done: j.NumRecords, Total: j.NumRecords}
	}
}

// Abandon fails a job whose task will not run it again (asynq archived or
// lost it, or it is past its deadline), and gives back what it should not
// keep: the reaper's end of a job. Unlike Fail it settles what no delivery
// will:
//   - an open reservation is voided, as Fail does;
//   - a reservation settled for work whose job was never completed (the
//     worker died between settling and recording) is refunded, its hold
//     waived: the job shows no results, so it charges nothing;
//   - a charge posted at acceptance stands once the job has started, and is
//     refunded when it never started.
//
// A refund is marked due in the ledger first, then the job is marked failed,
// then the refund is made (keyed by the job): a worker that completes the
// job meanwhile wins the mark and keeps the charge, and a crash or a lost
// reply at any step leaves the mark, which the reaper finishes
// (FinishCharge). Returns an error wrapping ErrEnded when the job has ended,
// or ErrNotFound.
func (s *Service) Abandon(ctx context.Context, account, id, reason string) (Job, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status.Terminal() {
		return Job{}, &StatusError{ID: id, Status: j.Status}
	}
	if !j.ChargeAtAcceptance || j.Attempts > 0 {
		failed, err := s.fail(ctx, j, reason)
		switch {
		case errors.Is(err, credit.ErrReservationNotFound):
			// Nothing is held (its reservation outlived its retention):
			// the job only ends.
			return s.markFailed(ctx, j, reason, nil)
		case !errors.Is(err, credit.ErrAlreadySettled):
			return failed, err
		}
	}
	// Charged, by a settle or at acceptance, for a job that will not show
	// its work.
	from := []Status{Queued, Running}
	if j.ChargeAtAcceptance {
		// Refunded only while it never started: a worker that starts it
		// meanwhile (Running) makes its charge stand, and the mark fails.
		from = []Status{Queued}
	}
	return s.endRefunded(ctx, j, "abandon", reason, func(refunded int64) (Job, error) {
		return s.markFailedFrom(ctx, j, from, reason+" What it was charged was refunded.", &refunded)
	})
}

// endRefunded ends j and refunds all it was charged, in the order that a
// crash at any step cannot turn into a charge kept or refunded twice: the
// refund is marked due in the ledger first, then end marks the job ended
// (given what the refund gives back), then the refund is made, keyed by the
// job. A repeat refunds nothing twice, and a crash or a failed refund leaves
// the mark, which the reaper finishes (FinishCharge). op names the caller in
// errors.
func (s *Service) endRefunded(ctx context.Context, j Job, op, reason string, end func(refunded int64) (Job, error)) (Job, error) {
	if err := s.cfg.Ledger.MarkRefundDue(ctx, j.Account, j.ID); err != nil {
		return Job{}, fmt.Errorf("%s %s: %w", op, j.ID, err)
	}
	r, err := s.cfg.Ledger.Reservation(ctx, j.Account, j.ID)
	if err != nil {
		return Job{}, fmt.Errorf("%s %s: %w", op, j.ID, err)
	}
	ended, err := end(r.Reserved())
	if err != nil {
		return Job{}, err
	}
	if _, err := s.cfg.Ledger.Refund(context.WithoutCancel(ctx), j.Account, j.ID, reason); err != nil {
		return ended, fmt.Errorf("%s %s: %s, its refund left to the reaper: %w", op, j.ID, ended.Status, err)
	}
	return ended, nil
}

// Fail voids a job's reservation and marks it failed with reason, a sentence
// for the client, to which it adds what became of the credits. Returns an
// error wrapping ErrEnded when the job has ended.
func (s *Service) Fail(ctx context.Context, account, id, reason string) (Job, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status.Terminal() {
		return Job{}, &StatusError{ID: id, Status: j.Status}
	}
	return s.fail(ctx, j, reason)
}

// fail is Fail of j, read and not ended.
func (s *Service) fail(ctx context.Context, j Job, reason string) (Job, error) {
	var released int64
	note := " Its charge at acceptance stands."
	if !j.ChargeAtAcceptance {
		r, err := s.cfg.Ledger.Void(ctx, j.Account, j.Pool, j.ID, reason)
		if errors.Is(err, credit.ErrAlreadyRefunded) {
			// An abandon failed and refunded it meanwhile.
			return Job{}, fmt.Errorf("fail %s: refunded already: %w", j.ID, ErrEnded)
		}
		if err != nil {
			// Settled already: the job's work was done and a redelivery
			// completes it; it is not failed.
			return Job{}, fmt.Errorf("fail %s: %w", j.ID, err)
		}
		released, note = r.Released, " Nothing was charged."
	}
	return s.markFailed(ctx, j, reason+note, &released)
}

// markFailed marks j failed, unless it has ended, with msg for the client
// and, when released is not nil, the credits it gave back.
func (s *Service) markFailed(ctx context.Context, j Job, msg string, released *int64) (Job, error) {
	return s.markFailedFrom(ctx, j, []Status{Queued, Running}, msg, released)
}

// markFailedFrom is markFailed of a job whose status is one of from.
func (s *Service) markFailedFrom(ctx context.Context, j Job, from []Status, msg string, released *int64) (Job, error) {
	return s.cfg.Store.Update(ctx, j.Account, j.ID, from, func(j *Job) {
		s.finish(j, Failed)
		j.Error = msg
		if released != nil {
			j.CreditsReleased = *released
		}
	})
}

package jobs

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Ledger is what jobs need of the credit ledger; *ledger.Redis implements it.
// Its methods return the typed errors of package credit.
type Ledger interface {
	OpenPool(ctx context.Context, account string, cfg credit.PoolConfig, periodStart, periodEnd time.Time) (credit.Pool, bool, error)
	Reserve(ctx context.Context, req credit.ReserveRequest) (credit.Reservation, error)
	Settle(ctx context.Context, req credit.SettleRequest) (credit.Reservation, error)
	// StageRecords stages record ids of one attempt of a dedup job for its
	// settle (SettleRequest.Staged), and returns how many were new to the
	// stage.
	StageRecords(ctx context.Context, account, job string, attempt int, ids []string) (int64, error)
	// DropStaged drops what an attempt staged.
	DropStaged(ctx context.Context, account, job string, attempt int) error
	Void(ctx context.Context, account, pool, job, reason string) (credit.Reservation, error)
	Reservation(ctx context.Context, account, job string) (credit.Reservation, error)
	// SettledGuard names the hash field that says a job's reservation is
	// settled, and its value then, for a Guard of Store.UpdateGuarded: a
	// job is marked succeeded only while the settlement it reports stands.
	SettledGuard(account, job string) (key, field, value string)
	// Pool returns one pool of an account. Returns credit.ErrUnknownAccount
	// or credit.ErrUnknownPool.
	Pool(ctx context.Context, account, pool string) (credit.Pool, error)
	// Charged reports, per record id, whether the pool charged it before.
	Charged(ctx context.Context, account, pool string, ids []string) ([]bool, error)
	Hold(ctx context.Context, id string) (credit.Hold, error)
	// Refund gives back, once per job, all that a settled job was charged
	// (its posting, its unpaid hold, the record ids it charged first), with
	// reason in the journal; refunding a refunded job returns it unchanged,
	// and a voided one comes back as it is. Returns
	// credit.ErrReservationOpen for an open reservation and
	// credit.ErrReservationNotFound.
	Refund(ctx context.Context, account, job, reason string) (credit.Reservation, error)
	// MarkRefundDue marks a job's charge as to be refunded, where the
	// reaper finds it should the refund not follow; Refund removes the mark.
	MarkRefundDue(ctx context.Context, account, job string) error
	// DropCharge removes the mark of a job whose charge stands.
	DropCharge(ctx context.Context, account, job string) error
	WaiveHold(ctx context.Context, id, reason string) (credit.Hold, error)
	// PayHold marks a hold paid; paying a paid hold returns it unchanged.
	// Returns credit.ErrHoldNotFound, credit.ErrInvalidID, or an error
	// wrapping credit.ErrHoldConflict for a waived hold.
	PayHold(ctx context.Context, id, paymentRef string) (credit.Hold, error)
	// ListHolds returns a page of holds, newest first, with the amount due
	// over every page. Returns an error wrapping credit.ErrInvalidCursor,
	// credit.ErrInvalidStatus or credit.ErrInvalidID.
	ListHolds(ctx context.Context, f credit.HoldFilter) (credit.HoldPage, error)
	// EachHold calls fn with every hold the filter selects by status and
	// account, newest first, a chunk at a time, and stops at fn's first
	// error. Returns an error wrapping credit.ErrInvalidStatus or
	// credit.ErrInvalidID before fn is called.
	EachHold(ctx context.Context, f credit.HoldFilter, fn func(credit.Hold) error) error
	// Accounts returns every account id, in no order.
	Accounts(ctx context.Context) ([]string, error)
	// RecentHolds yields the holds opened at or after since, oldest first;
	// a failure to read ends it with its error.
	RecentHolds(ctx context.Context, since time.Time) iter.Seq2[credit.Hold, error]
}

// Objects re-tags stored result objects; every storage.Backend implements
// it. The service sets the hold tag of a job's results when its hold is
// paid or waived.
type Objects interface {
	// SetTags replaces the tags of the object at key. Returns an error for
	// which Config.ObjectMissingFunc reports true when there is no object at
	// key (it expired or was deleted), and any other error when the tags
	// could not be set.
	SetTags(ctx context.Context, key string, tags map[string]string) error
	// Delete removes the object at key; a key with no object counts as
	// success. Returns an error when the object could not be removed.
	Delete(ctx context.Context, key string) error
}

// TagReader is what Objects may also do: read an object's tags. When
// Config.Objects implements it (storage.Local does), HealTags reads each
// tag and writes only the ones that lag, and keeps any other tags.
type TagReader interface {
	// Tags returns the tags of the object at key. Returns an error for which
	// Config.ObjectMissingFunc reports true when there is no object at key.
	Tags(ctx context.Context, key string) (map[string]string, error)
}

// Queue runs jobs on workers; the asynq queue implements it.
type Queue interface {
	// Enqueue queues the job's task with the job id as its task id. A task of
	// that id that is already queued counts as success.
	Enqueue(ctx context.Context, j Job) error
	// Cancel deletes the job's task while it waits, and stops it while it
	// runs. A task that is gone already counts as success.
	Cancel(ctx context.Context, j Job) error
}

// Store keeps job records. Jobs of one account are listed newest first.
type Store interface {
	// Create writes a new job with its enrichment items, if any. Returns
	// ErrJobExists when the id is taken.
	Create(ctx context.Context, j Job, items []map[string]any) error
	// Get returns a job with its current progress. Returns ErrNotFound for an
	// unknown id or an id of another account.
	Get(ctx context.Context, account, id string) (Job, error)
	// Items returns an enrichment job's items, as submitted.
	Items(ctx context.Context, account, id string) ([]map[string]any, error)
	// Update applies fn to the job and writes it back atomically, provided
	// the job's status is one of from when read and has not changed since.
	// Returns ErrNotFound, or a *StatusError when the status is not in from.
	Update(ctx context.Context, account, id string, from []Status, fn func(*Job)) (Job, error)
	// UpdateGuarded is Update that writes only while guard holds, checked in
	// the same atomic step as the write. Returns an error wrapping
	// ErrGuardFailed when it does not.
	UpdateGuarded(ctx context.Context, account, id string, from []Status, guard Guard, fn func(*Job)) (Job, error)
	// UpdateFrom is UpdateGuarded of j starting from j as the store gave it
	// (j.Rev): while the record is still at that revision, the update writes
	// without reading it first; when it has changed, the update reads it
	// and goes on as UpdateGuarded does.
	UpdateFrom(ctx context.Context, j Job, from []Status, guard Guard, fn func(*Job)) (Job, error)
	// SetProgress records how far a running job is, cheaply.
	SetProgress(ctx context.Context, account, id string, p Progress) error
	// List returns a page of an account's jobs, newest first, without their
	// Records (Get has them), and the cursor of the next page (empty on the
	// last).
	List(ctx context.Context, account string, f ListFilter) ([]Job, string, error)
	// ResultsDue returns the jobs of these accounts that finished before the
	// given time and still have result files.
	ResultsDue(ctx context.Context, accounts []string, before time.Time) ([]JobRef, error)
	// ActiveBefore returns the jobs of these accounts created before the
	// given time that have not ended.
	ActiveBefore(ctx context.Context, accounts []string, before time.Time) ([]JobRef, error)
	// ResultsSince returns the jobs of these accounts whose result files
	// are kept and that finished at or after since.
	ResultsSince(ctx context.Context, accounts []string, since time.Time) ([]JobRef, error)
}

// JobRef names one job.
type JobRef struct {
	Account, ID string
}

// ListFilter selects a page of jobs.
type ListFilter struct {
	// Status and Kind select; empty selects all.
	Status Status
	Kind   Kind
	// Limit is the page size. Defaults to 50, at most 500.
	Limit int
	// Cursor is the previous page's next cursor.
	Cursor string
}

// Account is a customer: a team or workspace with plans and API keys.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	PlanIDs   []string  `json:"plan_ids"`
	CreatedAt time.Time `json:"created_at"`
}

// Accounts keeps account records.
type Accounts interface {
	// CreateAccount writes a new account. Returns ErrAccountExists when the
	// id is taken.
	CreateAccount(ctx context.Context, a Account) error
	// Account returns an account. Returns ErrNotFound for an unknown id.
	Account(ctx context.Context, id string) (Account, error)
}

// Errors of the jobs service.
var (
	// ErrNotFound is returned for an unknown job or account, and for one of
	// another account: the API never reveals that it exists.
	ErrNotFound = errors.New("not found")
	// ErrJobExists is returned by Store.Create for a job id that is taken.
	ErrJobExists = errors.New("job exists")
	// ErrAccountExists is returned by CreateAccount for an id that is taken.
	ErrAccountExists = errors.New("account exists")
	// ErrEnded is returned when a job that has ended is started, canceled or
	// completed again.
	ErrEnded = errors.New("job has ended")
	// ErrGuardFailed is returned by Store.UpdateGuarded when its guard does
	// not hold.
	ErrGuardFailed = errors.New("the state the update needs does not hold")
	// ErrNotInPlan is returned when none of the account's plans covers the
	// job's data type and operation.
	ErrNotInPlan = errors.New("no plan of the account covers this job")
	// ErrInvalidCursor is returned for a page cursor that is not one.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// StatusError is returned when a job is not in a state that allows a change.
type StatusError struct {
	ID     string
	Status Status
}

func (e *StatusError) Error() string { return "job " + e.ID + " is " + string(e.Status) }

// Unwrap makes a StatusError of an ended job an ErrEnded.
func (e *StatusError) Unwrap() error {
	if e.Status.Terminal() {
		return ErrEnded
	}
	return nil
}

// Clock returns the time; tests inject one.
type Clock func() time.Time

// Recorder writes a job's record in the round trip of its reservation: the
// ledger's keys and the store's of one account share its hash slot.
// jobstore.Recorder implements it over *ledger.Redis and *jobstore.Redis.
type Recorder interface {
	// ReserveAndCreate reserves as Ledger.Reserve does and, in the same
	// round trip, creates j with items as Store.Create does, provided that
	// the reservation made is the one expected (its pool, Processed,
	// Prepaid, Overage and Skipped, open). It returns the reservation and
	// the reserve's errors as Ledger.Reserve does, and the revision of j
	// written (Job.Rev). When j was not written (the reservation is not
	// the expected one, or the write did not run), rev is "", nothing of
	// j was written, and the caller records the job from the reservation
	// returned.
	ReserveAndCreate(ctx context.Context, req credit.ReserveRequest, expect credit.Reservation, j Job, items []map[string]any) (r credit.Reservation, rev string, err error)
	// SettleAndUpdate settles as Ledger.Settle does and, in the same round
	// trip, writes what fn makes of j, from j as the store gave it
	// (Store.UpdateFrom), provided that the settlement made is the one
	// expected (its TotalCost, Released and OveragePosted) and that the
	// record has not changed since. It returns the settlement and the
	// settle's errors as Ledger.Settle does; ok reports whether the job was
	// written, and done is then the job as written. When it was not,
	// nothing of it was written, and the caller writes the job from the
	// settlement returned.
	SettleAndUpdate(ctx context.Context, req credit.SettleRequest, expect credit.Reservation, j Job, from []Status, fn func(*Job)) (r credit.Reservation, done Job, ok bool, err error)
}

// Guard is a condition on a hash field of the job's account, checked with a
// job update in one atomic step: the job is written only while the hash at
// Key has Field equal to Value. Key must live in the account's hash slot.
type Guard struct{ Key, Field, Value string }

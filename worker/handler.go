package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
	"github.com/creditrun/creditrun/storage"
)

// Service is what a worker needs of the jobs service; *jobs.Service
// implements it.
type Service interface {
	// Get returns a job. Returns jobs.ErrNotFound.
	Get(ctx context.Context, account, id string) (jobs.Job, error)
	// StartJob marks the job j names running and counts the attempt, from
	// j.Rev when it is set. Returns an error wrapping jobs.ErrEnded when the
	// job has ended, and jobs.ErrNotFound.
	StartJob(ctx context.Context, j jobs.Job) (jobs.Job, error)
	// Items returns an enrichment's items that run, in request order.
	// Returns jobs.ErrNotFound.
	Items(ctx context.Context, account, id string) ([]map[string]any, error)
	// Progress records how far a running job is.
	Progress(ctx context.Context, account, id string, p jobs.Progress) error
	// CompleteJob settles a job exactly once and marks it succeeded, given
	// the job as Start gave it. Returns an error wrapping jobs.ErrEnded when
	// it was canceled or failed meanwhile.
	CompleteJob(ctx context.Context, j jobs.Job, o jobs.Outcome) (jobs.Job, error)
	// StageRecords stages ids of records that one attempt of a dedup job
	// delivered, for its Complete, and returns how many were new to the
	// attempt's stage.
	StageRecords(ctx context.Context, account, id string, attempt int, ids []string) (int64, error)
	// DropStaged drops what an attempt of a dedup job staged, for an
	// attempt that failed.
	DropStaged(ctx context.Context, account, id string, attempt int) error
	// Fail voids a job's reservation and marks it failed. Returns an error
	// wrapping jobs.ErrEnded when it has ended.
	Fail(ctx context.Context, account, id, reason string) (jobs.Job, error)
}

var _ Service = (*jobs.Service)(nil)

// HandlerConfig is what a Handler is built from.
type HandlerConfig struct {
	Service Service
	// Source is where records come from. When it also implements
	// FieldSource, CSV headers come from it.
	Source  source.Source
	Storage storage.Backend
	// PartSize is the most records of one result file of a download.
	// Defaults to 1,000,000.
	PartSize int64
	// EncodeWorkers is how many goroutines encode the records of a large
	// download's file at once (see parallelWriter); 1 encodes every file on
	// the run's goroutine. Defaults to GOMAXPROCS.
	EncodeWorkers int
	// ProgressEvery is the records between two progress updates. Defaults to
	// 10,000.
	ProgressEvery int64
	// MaxAttempts caps the runs of one job, counting those cut short by a
	// worker that died (which asynq does not count as retries). Defaults to
	// 10.
	MaxAttempts int
	// Logger logs what the handler cannot report through the task's error.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, counts the deliveries and what they came to (see
	// Metrics). Defaults to nil: nothing is counted.
	Metrics *Metrics
	// Slots, when set, caps the jobs of one account that run at once across
	// the cluster (see AccountSlots). Defaults to nil: no cap.
	Slots *AccountSlots
}

// Handler runs job:run tasks. It implements asynq.Handler.
type Handler struct {
	cfg HandlerConfig
}

var _ asynq.Handler = (*Handler)(nil)

// NewHandler returns a handler on cfg.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.PartSize <= 0 {
		cfg.PartSize = 1_000_000
	}
	if cfg.EncodeWorkers <= 0 {
		cfg.EncodeWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 10_000
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg}
}

// endTimeout bounds the calls that record a job's end after its task's ctx
// is done.
const endTimeout = 10 * time.Second

// ProcessTask runs a job:run task: it starts the job, runs it by kind,
// writes its results and completes it, settling its cost exactly once.
//
// It returns nil when the job is done or has ended (canceled, or run by an
// earlier delivery). It returns an error wrapping asynq.SkipRetry for a task
// of another type, a bad payload, an unknown job, and a job that cannot
// succeed (an unknown data type, a bad query or match_on, a query that needs
// more work than the source's budget of one search), which it fails first:
// Service.Fail voids its reservation. It returns ctx's error when ctx is canceled (a cancel, a shutdown,
// a lost lease), even on the last retry, and any other error as it is, for
// asynq to retry, except on the last retry, when it fails the job first and
// wraps asynq.SkipRetry. The task's timeout is such an error.
//
// With HandlerConfig.Slots, a task whose account has as many jobs running as
// it may returns a *BusyError before its job starts (see takeSlot).
//
// HandlerConfig.Metrics counts each delivery once, by what it came to.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	a, err := h.process(ctx, t)
	h.cfg.Metrics.observe(a, time.Since(start))
	return err
}

// process is ProcessTask; it says as well what the delivery came to, each
// return with its one result.
func (h *Handler) process(ctx context.Context, t *asynq.Task) (attempt, error) {
	a := attempt{kind: kindUnknown, result: resultFailed}
	if t.Type() != TypeRun {
		return a, fmt.Errorf("unknown task type %q: %w", t.Type(), asynq.SkipRetry)
	}
	p, err := decodePayload(t.Payload())
	if err != nil {
		return a, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	slot, err := h.takeSlot(ctx, p)
	if err != nil {
		return a.is(resultDeferred), err
	}
	defer slot.Release()
	j, err := h.cfg.Service.StartJob(ctx, jobs.Job{Account: p.Account, ID: p.Job, Rev: string(p.Rev)})
	switch {
	case errors.Is(err, jobs.ErrEnded):
		a.kind = h.kindOf(ctx, p)
		return a.is(resultEnded), nil
	case errors.Is(err, jobs.ErrNotFound):
		return a, fmt.Errorf("start %s: %w: %w", p.Job, err, asynq.SkipRetry)
	case err != nil:
		return h.retryOrFail(ctx, a, run{h: h, job: jobs.Job{Account: p.Account, ID: p.Job}}, fmt.Errorf("start %s: %w", p.Job, err), "starting")
	}
	a.kind = kindLabel(j.Kind)
	if j.Attempts > h.cfg.MaxAttempts {
		reason := fmt.Sprintf("The job was started %d times without finishing.", j.Attempts-1)
		result := h.fail(ctx, j, nil, reason)
		return a.is(result), fmt.Errorf("job %s: %d attempts: %w", j.ID, j.Attempts-1, asynq.SkipRetry)
	}

	r := run{h: h, job: j}
	o, err := r.run(ctx)
	if err != nil {
		if cutShort(ctx) {
			return a.is(resultStopped), h.stopped(ctx, j, r)
		}
		if permanent(err) {
			result := h.fail(ctx, j, r.written, h.failReason(err, j.DataType))
			return a.is(result), fmt.Errorf("run %s: %w: %w", j.ID, err, asynq.SkipRetry)
		}
		return h.retryOrFail(ctx, a, r, fmt.Errorf("run %s: %w", j.ID, err), r.stage)
	}

	done, err := h.cfg.Service.CompleteJob(ctx, j, o)
	if errors.Is(err, jobs.ErrEnded) {
		if err := h.ended(ctx, j, r); err != nil {
			return a.is(resultRetry), err
		}
		return a.is(resultEnded), nil
	}
	if err != nil {
		return h.retryOrFail(ctx, a, r, fmt.Errorf("complete %s: %w", j.ID, err), "settling")
	}
	h.tagResults(ctx, done, r.written, r.tag)
	a.outcome = o
	return a.is(resultSucceeded), nil
}

// takeSlot takes a slot of the task's account when the handler caps jobs
// per account, before the job starts, and returns nil otherwise. It returns
// a *BusyError when the account has all its slots running, for asynq to try
// the task again after the error's Delay without counting a retry (see
// NewServer); the job stays queued. On the task's last retry, which asynq
// would archive on any error, and when Redis cannot say, the job runs
// without a slot.
func (h *Handler) takeSlot(ctx context.Context, p payload) (*Slot, error) {
	if h.cfg.Slots == nil {
		return nil, nil
	}
	slot, err := h.cfg.Slots.Acquire(ctx, p.Account, p.Job)
	if _, busy := errors.AsType[*BusyError](err); busy {
		n, ok1 := asynq.GetRetryCount(ctx)
		limit, ok2 := asynq.GetMaxRetry(ctx)
		if ok1 && ok2 && n >= limit {
			return nil, nil
		}
		return nil, err
	}
	if err != nil {
		h.cfg.Logger.Warn("take an account slot", "job", p.Job, "account", p.Account, "err", err)
		return nil, nil
	}
	return slot, nil
}

// cutShort reports whether ctx was canceled: a cancel (CancelProcessing), a
// shutdown or a lost lease, none of them a failure of the job. A ctx past
// its deadline (the task's timeout) is not cut short: the run failed.
func cutShort(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// stopped handles a run whose ctx was canceled: a cancel (CancelProcessing)
// or a shutdown. A job that has ended was canceled: its results go and the task
// is done. Otherwise the worker is shutting down, and ctx's error sends the
// task back to the queue.
func (h *Handler) stopped(ctx context.Context, j jobs.Job, r run) error {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	cur, err := h.cfg.Service.Get(gctx, j.Account, j.ID)
	if err == nil && cur.Status.Terminal() {
		return h.ended(gctx, j, r)
	}
	return ctx.Err()
}

// ended handles a job that ended while this run ran. Canceled or failed: its
// results go. Succeeded: another delivery of the task ran it at the same
// time (asynq redelivers a task whose worker seems dead) and wrote the same
// keys; they stay, tagged as that job says.
func (h *Handler) ended(ctx context.Context, j jobs.Job, r run) error {
	cur, err := h.cfg.Service.Get(ctx, j.Account, j.ID)
	if err != nil {
		return fmt.Errorf("job %s ended: %w", j.ID, err)
	}
	if cur.Status == jobs.Succeeded {
		h.tagResults(ctx, cur, r.written, r.tag)
		return nil
	}
	h.deleteObjects(ctx, r.written)
	return nil
}

// retryOrFail returns err for asynq to retry (result retry), or, on the last
// retry, fails the job with a sentence saying why and returns err wrapping
// SkipRetry (the result of fail). When ctx was canceled the delivery was cut
// short, not failed, even on the last retry: r's results are handled as
// stopped does (result stopped), and a shutdown puts the task back.
func (h *Handler) retryOrFail(ctx context.Context, a attempt, r run, err error, stage string) (attempt, error) {
	if cutShort(ctx) {
		if serr := h.stopped(ctx, r.job, r); serr != nil {
			return a.is(resultStopped), err
		}
		return a.is(resultStopped), nil
	}
	n, ok1 := asynq.GetRetryCount(ctx)
	limit, ok2 := asynq.GetMaxRetry(ctx)
	if !ok1 || !ok2 || n < limit {
		return a.is(resultRetry), err
	}
	reason := fmt.Sprintf("The job failed on each of its %d attempts, the last while %s.", n+1, stage)
	result := h.fail(ctx, r.job, r.written, reason)
	return a.is(result), fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}

// fail fails a job and drops its results, even once ctx is done, and returns
// resultFailed. A job that has ended meanwhile returns resultEnded; one that
// succeeded, through another delivery, keeps its results. A failure to fail
// is logged (still resultFailed): the reaper voids what is left.
func (h *Handler) fail(ctx context.Context, j jobs.Job, written []string, reason string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	result := resultFailed
	_, err := h.cfg.Service.Fail(ctx, j.Account, j.ID, reason)
	if errors.Is(err, jobs.ErrEnded) {
		result = resultEnded
		var cur jobs.Job
		if cur, err = h.cfg.Service.Get(ctx, j.Account, j.ID); err == nil && cur.Status == jobs.Succeeded {
			return result
		}
	}
	if err != nil {
		h.cfg.Logger.Error("fail job", "job", j.ID, "account", j.Account, "err", err)
		return result
	}
	h.deleteObjects(ctx, written)
	return result
}

func (h *Handler) deleteObjects(ctx context.Context, keys []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	for _, k := range keys {
		if err := h.cfg.Storage.Delete(ctx, k); err != nil {
			h.cfg.Logger.Error("delete result", "key", k, "err", err)
		}
	}
}

// tagResults sets the hold tag of a succeeded job's results when it is not
// the one they were written with: they are written "unpaid" when the job
// reserved overage, since whether it owes any is known only at settlement.
func (h *Handler) tagResults(ctx context.Context, j jobs.Job, keys []string, written string) {
	want := storage.HoldNone
	if j.HoldID != "" {
		want = storage.HoldUnpaid
	}
	if want == written {
		return
	}
	for _, k := range keys {
		if err := h.cfg.Storage.SetTags(ctx, k, map[string]string{storage.HoldTag: want}); err != nil {
			h.cfg.Logger.Error("tag result", "key", k, "tag", want, "err", err)
		}
	}
}

// permanent reports whether an error of a run will recur on every retry. A
// search over the source's budget of work (*source.BudgetError) is one: the
// same query takes the same steps again.
func permanent(err error) bool {
	_, syntax := errors.AsType[*query.SyntaxError](err)
	_, budget := errors.AsType[*source.BudgetError](err)
	return syntax || budget || errors.Is(err, source.ErrUnknownDataType) || errors.Is(err, source.ErrInvalidMatchOn)
}

// failReason is the sentence of a job of dataType that cannot succeed.
func (h *Handler) failReason(err error, dataType string) string {
	if be, ok := errors.AsType[*source.BudgetError](err); ok {
		return fmt.Sprintf("The query needs more than %d steps of search (index entries and records examined), "+
			"the most one search may take; narrow it.", be.Steps)
	}
	switch {
	case errors.Is(err, source.ErrUnknownDataType):
		return fmt.Sprintf("The data type %q is not one this source has: %s.", dataType,
			strings.Join(source.Sorted(h.cfg.Source.DataTypes()), ", "))
	case errors.Is(err, source.ErrInvalidMatchOn):
		return "The match_on fields cannot be matched."
	}
	return "The query is not valid."
}

package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/scheduler"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// reapEnv is one reaper case on its own redis-server (asynq keys have no
// prefix): a fake clock for the ledger and the jobs, real asynq for the
// tasks, and an account on the people plan.
type reapEnv struct {
	t         *testing.T
	srv       *redisserver.Server
	clock     *ledgertest.Clock
	ledger    *ledger.Redis
	store     *jobstore.Redis
	svc       *jobs.Service
	queue     *worker.Queue
	inspector *asynq.Inspector
	account   string
}

func newReapEnv(t *testing.T) *reapEnv {
	t.Helper()
	e := &reapEnv{t: t, srv: redisserver.T(t), clock: ledgertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	e.ledger, e.store, e.svc, e.inspector = e.parts()
	opt := asynq.RedisClientOpt{Addr: e.srv.Addr()}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	e.queue = worker.NewQueue(client, e.inspector)
	e.svc = jobs.NewService(jobs.Config{Ledger: e.ledger, Store: e.store, Queue: e.queue, Accounts: e.store, Catalog: plan.Builtin(), NowFunc: e.clock.Now})
	a, err := e.svc.CreateAccount(t.Context(), "acme", "Acme", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	e.account = a.ID
	return e
}

// parts builds a ledger, job store, jobs service and inspector on clients
// of their own, as another scheduler process would have.
func (e *reapEnv) parts() (*ledger.Redis, *jobstore.Redis, *jobs.Service, *asynq.Inspector) {
	c := redis.NewClient(&redis.Options{Addr: e.srv.Addr()})
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.srv.Addr()})
	e.t.Cleanup(func() { c.Close(); inspector.Close() })
	l := ledger.New(c, ledger.Options{NowFunc: e.clock.Now})
	store := jobstore.New(c, jobstore.Options{NowFunc: e.clock.Now})
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: store, Accounts: store, Catalog: plan.Builtin(), NowFunc: e.clock.Now})
	return l, store, svc, inspector
}

// reaper returns a Reaper on parts of its own.
func (e *reapEnv) reaper(cfg scheduler.ReaperConfig) *scheduler.Reaper {
	e.t.Helper()
	l, _, svc, inspector := e.parts()
	cfg.Ledger, cfg.Tasks, cfg.Jobs = l, inspector, svc
	r, err := scheduler.NewReaper(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *reapEnv) submit() jobs.Job {
	e.t.Helper()
	j, err := e.svc.Submit(e.t.Context(), e.account, jobs.Spec{Kind: jobs.Search, DataType: source.People, Query: "city:Atlantis", NumRecords: 10})
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *reapEnv) job(id string) jobs.Job {
	e.t.Helper()
	j, err := e.svc.Get(e.t.Context(), e.account, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *reapEnv) state(id string) credit.ReservationState {
	e.t.Helper()
	r, err := e.ledger.Reservation(e.t.Context(), e.account, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.State
}

// releases counts the job's release entries in the journal.
func (e *reapEnv) releases(id string) int {
	e.t.Helper()
	all, err := e.ledger.JournalAll(e.t.Context(), e.account)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, en := range all {
		if en.JobID == id && en.Type == credit.EntryRelease {
			n++
		}
	}
	return n
}

func (e *reapEnv) deleteTask(id string) {
	e.t.Helper()
	if err := e.inspector.DeleteTask(worker.QueueName, id); err != nil {
		e.t.Fatal(err)
	}
}

// archiveByWorker runs an asynq server whose handler starts the job and
// fails, until asynq has archived every task of ids (they were enqueued
// with no retries).
func (e *reapEnv) archiveByWorker(ids ...string) {
	e.t.Helper()
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: e.srv.Addr()}, asynq.Config{
		Concurrency: 2, Queues: map[string]int{worker.QueueName: 1}, LogLevel: asynq.FatalLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		if _, err := e.svc.Start(ctx, e.account, id); err != nil {
			return err
		}
		return errors.New("the source is down")
	}))
	if err != nil {
		e.t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			info, err := e.inspector.GetTaskInfo(worker.QueueName, id)
			if err != nil {
				e.t.Fatal(err)
			}
			if info.State == asynq.TaskStateArchived {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("task %s is %s after 30s, not archived", id, info.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestReap(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()

	late := e.submit() // running, and past the one-hour deadline
	if _, err := e.svc.Start(ctx, e.account, late.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)

	e.queue.MaxRetry = 0
	archived := e.submit() // archived by asynq after one failed run
	e.archiveByWorker(archived.ID)
	e.queue.MaxRetry = worker.DefaultMaxRetry

	queued := e.submit() // pending: healthy
	running := e.submit()
	if _, err := e.svc.Start(ctx, e.account, running.ID); err != nil { // running, task pending: healthy
		t.Fatal(err)
	}
	lost := e.submit()
	e.deleteTask(lost.ID)
	ended := e.submit() // canceled in its record, its reservation left open
	if _, err := e.store.Update(ctx, e.account, ended.ID, []jobs.Status{jobs.Queued}, func(j *jobs.Job) { j.Status = jobs.Canceled }); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	fresh := e.submit() // its task gone, but within the grace period
	e.deleteTask(fresh.ID)
	e.clock.Advance(time.Minute)

	r := e.reaper(scheduler.ReaperConfig{Deadline: time.Hour})
	n, err := r.Reap(ctx, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Reap reaped %d, want 4 (archived, lost, late, ended)", n)
	}

	for _, c := range []struct {
		name   string
		job    jobs.Job
		status jobs.Status
		state  credit.ReservationState
		error  string
	}{
		{"archived", archived, jobs.Failed, credit.Voided, "The job could not run: its task was archived after 1 attempt. Nothing was charged."},
		{"lost", lost, jobs.Failed, credit.Voided, "The job could not run: its task was lost. Nothing was charged."},
		{"late", late, jobs.Failed, credit.Voided, "The job did not finish within 1 hour of its submission. Nothing was charged."},
		{"ended", ended, jobs.Canceled, credit.Voided, ""},
		{"queued", queued, jobs.Queued, credit.Reserved, ""},
		{"running", running, jobs.Running, credit.Reserved, ""},
		{"fresh", fresh, jobs.Queued, credit.Reserved, ""},
	} {
		j := e.job(c.job.ID)
		if j.Status != c.status || j.Error != c.error {
			t.Errorf("%s: job %s %q, want %s %q", c.name, j.Status, j.Error, c.status, c.error)
		}
		if s := e.state(c.job.ID); s != c.state {
			t.Errorf("%s: reservation %s, want %s", c.name, s, c.state)
		}
		want := 0
		if c.state == credit.Voided {
			want = 1
			if j.Status == jobs.Failed && j.CreditsReleased != c.job.CreditsReserved {
				t.Errorf("%s: released %d, want %d", c.name, j.CreditsReleased, c.job.CreditsReserved)
			}
		}
		if got := e.releases(c.job.ID); got != want {
			t.Errorf("%s: %d release entries, want %d", c.name, got, want)
		}
	}
	// The late job's task is left alone: the worker finds the job ended.
	if _, err := e.inspector.GetTaskInfo(worker.QueueName, late.ID); err != nil {
		t.Errorf("late job's task: %v; want it left in the queue", err)
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)

	// Again: nothing left to reap.
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("second Reap = %d, %v; want 0, nil", n, err)
	}
	// The fresh job's grace ends; the healthy jobs stay healthy.
	e.clock.Advance(5 * time.Minute)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Errorf("Reap after the grace = %d, %v; want 1, nil", n, err)
	}
	if j := e.job(fresh.ID); j.Status != jobs.Failed || !strings.Contains(j.Error, "its task was lost") {
		t.Errorf("fresh job after the grace: %s %q", j.Status, j.Error)
	}
	for _, id := range []string{queued.ID, running.ID} {
		if s := e.state(id); s != credit.Reserved {
			t.Errorf("healthy job %s: reservation %s", id, s)
		}
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)
}

func TestReapDefaults(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()
	lost, healthy := e.submit(), e.submit()
	e.deleteTask(lost.ID)
	r := e.reaper(scheduler.ReaperConfig{})

	// Within the 5-minute grace: untouched.
	e.clock.Advance(4 * time.Minute)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("Reap within the grace = %d, %v; want 0, nil", n, err)
	}
	e.clock.Advance(2 * time.Minute)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Errorf("Reap past the grace = %d, %v; want 1, nil", n, err)
	}
	// A pending task is healthy for 24 hours.
	e.clock.Advance(23 * time.Hour)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("Reap at 23h = %d, %v; want 0, nil", n, err)
	}
	e.clock.Advance(time.Hour)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Errorf("Reap at 24h = %d, %v; want 1, nil", n, err)
	}
	if j := e.job(healthy.ID); j.Status != jobs.Failed || j.Error != "The job did not finish within 24 hours of its submission. Nothing was charged." {
		t.Errorf("job past the deadline: %s %q", j.Status, j.Error)
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)
}

// Reapers running at once fail each job once: one of them counts it, and the
// journal has one release.
func TestReapConcurrent(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()
	var stranded []jobs.Job
	for i := range 12 {
		j := e.submit()
		if i%2 == 0 {
			e.deleteTask(j.ID)
		} else if err := e.inspector.ArchiveTask(worker.QueueName, j.ID); err != nil {
			t.Fatal(err)
		}
		stranded = append(stranded, j)
	}
	healthy := e.submit()
	e.clock.Advance(10 * time.Minute)

	var reapers []*scheduler.Reaper
	for range 4 {
		reapers = append(reapers, e.reaper(scheduler.ReaperConfig{}))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	for _, r := range reapers {
		wg.Go(func() {
			n, err := r.Reap(ctx, e.clock.Now())
			if err != nil {
				t.Errorf("Reap: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != len(stranded) {
		t.Errorf("reapers reaped %d between them, want %d", total, len(stranded))
	}
	for _, s := range stranded {
		j := e.job(s.ID)
		if j.Status != jobs.Failed || !strings.HasPrefix(j.Error, "The job could not run: its task was ") {
			t.Errorf("job %s: %s %q", s.ID, j.Status, j.Error)
		}
		if n := e.releases(s.ID); n != 1 {
			t.Errorf("job %s: %d release entries, want 1", s.ID, n)
		}
	}
	if j := e.job(healthy.ID); j.Status != jobs.Queued || e.state(healthy.ID) != credit.Reserved {
		t.Errorf("healthy job: %s, reservation %s", j.Status, e.state(healthy.ID))
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)
}

func TestNewReaperConfig(t *testing.T) {
	t.Parallel()
	parts := func(cfg scheduler.ReaperConfig) scheduler.ReaperConfig {
		cfg.Ledger, cfg.Tasks, cfg.Jobs = (*ledger.Redis)(nil), (*asynq.Inspector)(nil), (*jobs.Service)(nil)
		return cfg
	}
	for _, c := range []struct {
		name string
		cfg  scheduler.ReaperConfig
	}{
		{"no parts", scheduler.ReaperConfig{}},
		{"negative grace", parts(scheduler.ReaperConfig{Grace: -time.Second})},
		{"deadline under grace", parts(scheduler.ReaperConfig{Grace: time.Hour, Deadline: time.Minute})},
	} {
		if _, err := scheduler.NewReaper(c.cfg); err == nil {
			t.Errorf("%s: NewReaper succeeded", c.name)
		}
	}
	if _, err := scheduler.NewReaper(parts(scheduler.ReaperConfig{})); err != nil {
		t.Errorf("NewReaper with defaults: %v", err)
	}
}

// TestReapWithoutOpenReservation reaps stranded jobs that the walk of open
// reservations cannot see: two charged at acceptance (their reservations are
// settled at submit), one of which started; one whose reservation was
// released while the job stayed queued; and one whose worker settled it and
// died before recording it. Each is failed; the charge at acceptance of the
// one that started stands, the one that never started and the settled one
// are refunded.
func TestReapWithoutOpenReservation(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()
	enh, err := e.svc.CreateAccount(ctx, "enh", "Enh", []string{"enhance-5k"})
	if err != nil {
		t.Fatal(err)
	}
	enrich := func() jobs.Job {
		t.Helper()
		j, err := e.svc.Submit(ctx, enh.ID, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"},
			Items: []map[string]any{{"name": "a"}, {"name": "b"}, {"name": "c"}}})
		if err != nil {
			t.Fatal(err)
		}
		e.deleteTask(j.ID)
		return j
	}
	stands := enrich()
	if _, err := e.svc.Start(ctx, enh.ID, stands.ID); err != nil {
		t.Fatal(err)
	}
	never := enrich()
	if p, err := e.ledger.Pool(ctx, enh.ID, stands.Pool); err != nil || p.Available() != 5000-6 {
		t.Fatalf("charged at acceptance: %+v, %v; want 6 used", p.Counts, err)
	}

	released := e.submit()
	if _, err := e.ledger.Void(ctx, e.account, released.Pool, released.ID, "the job could not be queued"); err != nil {
		t.Fatal(err)
	}
	e.deleteTask(released.ID)
	settled := e.submit()
	if _, err := e.svc.Start(ctx, e.account, settled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Settle(ctx, credit.SettleRequest{Account: e.account, Pool: settled.Pool, JobID: settled.ID, Cost: 7}); err != nil {
		t.Fatal(err)
	}
	e.deleteTask(settled.ID)
	healthy := e.submit()
	before, err := e.ledger.Pool(ctx, e.account, healthy.Pool)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)

	r := e.reaper(scheduler.ReaperConfig{})
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 4 {
		t.Fatalf("Reap = %d, %v; want 4", n, err)
	}
	const lost = "The job could not run: its task was lost."
	for _, c := range []struct {
		name, account, id, error string
	}{
		{"started, charged at acceptance", enh.ID, stands.ID, lost + " Its charge at acceptance stands."},
		{"never started, charged at acceptance", enh.ID, never.ID, lost + " What it was charged was refunded."},
		{"released", e.account, released.ID, lost + " Nothing was charged."},
		{"settled, not recorded", e.account, settled.ID, lost + " What it was charged was refunded."},
	} {
		if j, err := e.svc.Get(ctx, c.account, c.id); err != nil || j.Status != jobs.Failed || j.Error != c.error {
			t.Errorf("%s: %s %q (%v), want failed %q", c.name, j.Status, j.Error, err, c.error)
		}
	}
	if p, err := e.ledger.Pool(ctx, enh.ID, stands.Pool); err != nil || p.Available() != 5000-3 {
		t.Errorf("enhancement pool after the reap: %+v, %v; want only the started job's 3 charged", p.Counts, err)
	}
	if after, err := e.ledger.Pool(ctx, e.account, healthy.Pool); err != nil || after.Available() != before.Available()+7 {
		t.Errorf("people pool after the reap: available %d, want %d (the settled 7 refunded)", after.Available(), before.Available()+7)
	}
	if got := e.releases(released.ID); got != 1 {
		t.Errorf("the released job has %d release entries, want 1", got)
	}
	if j := e.job(healthy.ID); j.Status != jobs.Queued || e.state(healthy.ID) != credit.Reserved {
		t.Errorf("the healthy job: %s, reservation %s", j.Status, e.state(healthy.ID))
	}
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("second Reap = %d, %v; want 0, nil", n, err)
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)
	ledgertest.CheckAccount(t, e.ledger, enh.ID)
}

// TestReapFinishesCharges: the reaper refunds a charge at acceptance whose
// job was never recorded and a refund that a crash cut short after its job
// was failed, and drops the mark of a charge whose job kept it; each once.
func TestReapFinishesCharges(t *testing.T) {
	t.Parallel()
	e := newReapEnv(t)
	ctx := t.Context()
	enh, err := e.svc.CreateAccount(ctx, "enh", "Enh", []string{"enhance-5k"})
	if err != nil {
		t.Fatal(err)
	}
	// The API died between the charge and the job record.
	orphan := credit.ReserveRequest{Account: enh.ID, Pool: "enhancement", JobID: "job_orphan", Requested: 3,
		ItemIDs: []string{"", "", ""}, Policy: credit.Reject, ChargeAtAcceptance: true}
	if _, err := e.ledger.Reserve(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	// A job charged at acceptance that ran and succeeded keeps its charge.
	kept, err := e.svc.Submit(ctx, enh.ID, jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"},
		Items: []map[string]any{{"name": "a"}, {"name": "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.deleteTask(kept.ID)
	if _, err := e.svc.Start(ctx, enh.ID, kept.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, enh.ID, kept.ID, jobs.Outcome{Found: 2, Delivered: 2}); err != nil {
		t.Fatal(err)
	}
	// The worker settled and died; the reaper's abandon marked the refund
	// due and failed the job, then crashed before refunding.
	settled := e.submit()
	e.deleteTask(settled.ID)
	if _, err := e.svc.Start(ctx, e.account, settled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Settle(ctx, credit.SettleRequest{Account: e.account, Pool: settled.Pool, JobID: settled.ID, Cost: 7}); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.MarkRefundDue(ctx, e.account, settled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Update(ctx, e.account, settled.ID, []jobs.Status{jobs.Running}, func(j *jobs.Job) {
		j.Status, j.Error = jobs.Failed, "The job could not run: its task was lost."
		now := e.clock.Now()
		j.FinishedAt = &now
	}); err != nil {
		t.Fatal(err)
	}
	people, err := e.ledger.Pool(ctx, e.account, settled.Pool)
	if err != nil {
		t.Fatal(err)
	}

	// Within the grace, nothing is touched.
	r := e.reaper(scheduler.ReaperConfig{})
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Fatalf("Reap within the grace = %d, %v; want 0", n, err)
	}
	e.clock.Advance(10 * time.Minute)
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 2 {
		t.Fatalf("Reap = %d, %v; want 2 refunds", n, err)
	}
	if p, err := e.ledger.Pool(ctx, enh.ID, "enhancement"); err != nil || p.Available() != 5000-2 {
		t.Errorf("enhancement pool: %+v, %v; want only the kept job's 2 charged", p.Counts, err)
	}
	if p, err := e.ledger.Pool(ctx, e.account, settled.Pool); err != nil || p.Available() != people.Available()+7 {
		t.Errorf("people pool: available %d, want %d (the settled 7 refunded)", p.Available(), people.Available()+7)
	}
	for res, err := range e.ledger.OldCharges(ctx, e.clock.Now()) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("a charge is still marked after the reap: %s/%s", res.Account, res.JobID)
	}
	if n, err := r.Reap(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Errorf("second Reap = %d, %v; want 0, nil", n, err)
	}
	ledgertest.CheckAccount(t, e.ledger, e.account)
	ledgertest.CheckAccount(t, e.ledger, enh.ID)
}

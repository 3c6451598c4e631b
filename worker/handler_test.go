package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// fixture is a worker on real parts: its own redis-server (asynq keys have
// no prefix), the ledger, the job store and the jobs service on it, the
// asynq queue, a generated dataset and local storage.
type fixture struct {
	redis     *redisserver.Server
	ledger    *ledger.Redis
	svc       *jobs.Service
	queue     *worker.Queue
	inspector *asynq.Inspector
	files     *storage.Local
	dir       string // the storage directory
	handler   *worker.Handler
	account   string
}

const people = 1100 // more than the people plan's 1,000 credits, for overage

func newFixture(t *testing.T, src source.Source, cfg worker.HandlerConfig, plans ...string) *fixture {
	t.Helper()
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	client := asynq.NewClient(opt)
	inspector := asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); inspector.Close() })

	f := &fixture{redis: srv, ledger: ledger.New(c, ledger.Options{}), inspector: inspector}
	f.queue = worker.NewQueue(client, inspector)
	store := jobstore.New(c, jobstore.Options{})
	f.svc = jobs.NewService(jobs.Config{Ledger: f.ledger, Store: store, Queue: f.queue, Accounts: store, Catalog: plan.Builtin(),
		Recorder: jobstore.Recorder{Ledger: f.ledger, Store: store}})

	if src == nil {
		src = openDataset(t, people)
	}
	f.dir = filepath.Join(t.TempDir(), "results")
	var files *storage.Local
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { files.Handler().ServeHTTP(w, r) }))
	t.Cleanup(api.Close)
	files = storage.NewLocal(f.dir, api.URL, []byte("a test secret of enough bytes"), nil)
	f.files = files

	cfg.Service, cfg.Source, cfg.Storage = f.svc, src, files
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.handler = worker.NewHandler(cfg)
	if len(plans) == 0 {
		plans = []string{"people-1k-99"}
	}
	a, err := f.svc.CreateAccount(t.Context(), "acme", "Acme", plans)
	if err != nil {
		t.Fatal(err)
	}
	f.account = a.ID
	return f
}

func (f *fixture) submit(t *testing.T, spec jobs.Spec) jobs.Job {
	t.Helper()
	j, err := f.svc.Submit(t.Context(), f.account, spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// process runs the job's task in the handler, as asynq would deliver it:
// with the revision of the job's record that j has (a submit's, which the
// queue puts in the task), from which the handler starts it.
func (f *fixture) process(t *testing.T, ctx context.Context, j jobs.Job) error {
	t.Helper()
	return f.handler.ProcessTask(ctx, worker.NewRunTaskOf(j))
}

func (f *fixture) job(t *testing.T, id string) jobs.Job {
	t.Helper()
	j, err := f.svc.Get(t.Context(), f.account, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// journal returns the job's journal entries of one type.
func (f *fixture) journal(t *testing.T, job string, typ credit.EntryType) []credit.Entry {
	t.Helper()
	all, err := f.ledger.JournalAll(t.Context(), f.account)
	if err != nil {
		t.Fatal(err)
	}
	var out []credit.Entry
	for _, e := range all {
		if e.JobID == job && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// checkLedger asserts I1 and I4 on the account, and I2 on job: reserved =
// total_cost + released.
func (f *fixture) checkLedger(t *testing.T, j jobs.Job) {
	t.Helper()
	ledgertest.CheckAccount(t, f.ledger, f.account)
	r, err := f.ledger.Reservation(t.Context(), f.account, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State == credit.Reserved || r.Reserved() != r.TotalCost+r.Released {
		t.Errorf("I2: job %s reservation %s: reserved %d, total_cost %d, released %d", j.ID, r.State, r.Reserved(), r.TotalCost, r.Released)
	}
}

// download fetches a result file through its signed link.
func (f *fixture) download(t *testing.T, key string) []byte {
	t.Helper()
	u, _, err := f.files.URL(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", key, resp.StatusCode, b)
	}
	return b
}

func TestSearchMatchingOneOfTen(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{})
	j := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, Query: "id:per_00000007", NumRecords: 10})
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Succeeded || done.TotalCost != 1 || done.CreditsReleased != 9 || done.NumFound != 1 {
		t.Fatalf("job %s: status %s, total_cost %d, released %d, num_found %d; want succeeded, 1, 9, 1",
			j.ID, done.Status, done.TotalCost, done.CreditsReleased, done.NumFound)
	}
	_, rows := parseRows(t, jobs.JSON, done.Records)
	if len(rows) != 1 || rows[0]["id"] != "per_00000007" {
		t.Fatalf("records %s", done.Records)
	}
	f.checkLedger(t, done)

	// A search that matches nothing costs nothing, with records [].
	j = f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, Query: "city:Atlantis", NumRecords: 5})
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	done = f.job(t, j.ID)
	if done.Status != jobs.Succeeded || done.TotalCost != 0 || done.CreditsReleased != 5 || string(done.Records) != "[]" {
		t.Fatalf("an empty search: %s, total_cost %d, released %d, records %s", done.Status, done.TotalCost, done.CreditsReleased, done.Records)
	}
	f.checkLedger(t, done)
}

func TestDownloadInParts(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{PartSize: 10, ProgressEvery: 7})
	for _, format := range formats {
		t.Run(string(format), func(t *testing.T) {
			j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: "*", NumRecords: 25, Format: format})
			if err := f.process(t, t.Context(), j); err != nil {
				t.Fatal(err)
			}
			done := f.job(t, j.ID)
			if done.Status != jobs.Succeeded || done.TotalCost != 25 || done.NumFound != people {
				t.Fatalf("job: %s, total_cost %d, num_found %d", done.Status, done.TotalCost, done.NumFound)
			}
			if len(done.Results) != 3 {
				t.Fatalf("%d result files, want 3: %+v", len(done.Results), done.Results)
			}
			var sum int64
			seen := map[any]bool{}
			for i, rf := range done.Results {
				if want := storage.ResultKey(f.account, j.ID, i+1, format); rf.Key != want || rf.Format != format {
					t.Fatalf("part %d: %+v, want key %s", i+1, rf, want)
				}
				b := f.download(t, rf.Key)
				if int64(len(b)) != rf.Bytes {
					t.Fatalf("part %d: %d bytes, the job says %d", i+1, len(b), rf.Bytes)
				}
				_, rows := parseRows(t, format, b)
				if int64(len(rows)) != rf.Records {
					t.Fatalf("part %d: %d rows, the job says %d", i+1, len(rows), rf.Records)
				}
				for _, row := range rows {
					seen[row["id"]] = true
				}
				sum += rf.Records
			}
			if sum != done.TotalCost || len(seen) != int(sum) {
				t.Fatalf("the parts hold %d records (%d distinct), total_cost is %d", sum, len(seen), done.TotalCost)
			}
			tags, err := f.files.Tags(t.Context(), done.Results[0].Key)
			if err != nil || tags[storage.HoldTag] != storage.HoldNone {
				t.Fatalf("tags %v %v, want %s=none", tags, err, storage.HoldTag)
			}
			f.checkLedger(t, done)
		})
	}
}

func TestDownloadNothingFound(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{})
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: "city:Atlantis", NumRecords: 100, Format: jobs.CSV})
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	done := f.job(t, j.ID)
	if done.TotalCost != 0 || done.CreditsReleased != 100 || len(done.Results) != 1 || done.Results[0].Records != 0 {
		t.Fatalf("job: total_cost %d, released %d, results %+v", done.TotalCost, done.CreditsReleased, done.Results)
	}
	header, rows := parseRows(t, jobs.CSV, f.download(t, done.Results[0].Key))
	if len(rows) != 0 || len(header) < 2 || header[0] != "id" {
		t.Fatalf("an empty CSV: header %q, %d rows", header, len(rows))
	}
}

func TestDownloadWithOverage(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{PartSize: 500})
	// 1,050 of 1,000 credits: 50 of overage, a hold, and unpaid files.
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 1050, Format: jobs.JSONL})
	if j.Meta.OverageReserved != 50 {
		t.Fatalf("overage reserved %d", j.Meta.OverageReserved)
	}
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	done := f.job(t, j.ID)
	if done.TotalCost != 1050 || done.Overage != 50 || done.HoldID == "" || len(done.Results) != 3 {
		t.Fatalf("job: total_cost %d, overage %d, hold %q, %d files", done.TotalCost, done.Overage, done.HoldID, len(done.Results))
	}
	for _, rf := range done.Results {
		tags, err := f.files.Tags(t.Context(), rf.Key)
		if err != nil || tags[storage.HoldTag] != storage.HoldUnpaid {
			t.Fatalf("%s: tags %v %v, want unpaid", rf.Key, tags, err)
		}
	}
	f.checkLedger(t, done)

	// Overage reserved but not used: the file ends untagged.
	j = f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, Query: "city:Atlantis", NumRecords: 20, Format: jobs.CSV})
	if j.Meta.OverageReserved == 0 {
		t.Fatalf("the second download reserved no overage: %+v", j.Meta)
	}
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	done = f.job(t, j.ID)
	if done.TotalCost != 0 || done.HoldID != "" {
		t.Fatalf("job: total_cost %d, hold %q", done.TotalCost, done.HoldID)
	}
	tags, err := f.files.Tags(t.Context(), done.Results[0].Key)
	if err != nil || tags[storage.HoldTag] != storage.HoldNone {
		t.Fatalf("tags %v %v, want none", tags, err)
	}
	f.checkLedger(t, done)
}

func TestEnrichment(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{})
	var items []map[string]any
	for i := range 8 {
		id := fmt.Sprintf("per_%08d", i+1)
		if i%3 == 2 {
			id = "per_missing"
		}
		items = append(items, map[string]any{"tracking_id": fmt.Sprintf("t%d", i), "id": id})
	}
	for _, format := range formats {
		t.Run(string(format), func(t *testing.T) {
			j := f.submit(t, jobs.Spec{Kind: jobs.Enrichment, DataType: source.People, MatchOn: []string{"id"}, Items: items, Format: format})
			if err := f.process(t, t.Context(), j); err != nil {
				t.Fatal(err)
			}
			done := f.job(t, j.ID)
			// Items 2 and 5 match nothing: 6 of 8 matched.
			if done.Status != jobs.Succeeded || done.TotalCost != 6 || done.CreditsReleased != 2 || done.NumFound != 6 || len(done.Results) != 1 {
				t.Fatalf("job: %s, total_cost %d, released %d, num_found %d, %d files", done.Status, done.TotalCost, done.CreditsReleased, done.NumFound, len(done.Results))
			}
			_, rows := parseRows(t, format, f.download(t, done.Results[0].Key))
			if len(rows) != len(items) || done.Results[0].Records != int64(len(items)) {
				t.Fatalf("%d rows, the job says %d, want %d", len(rows), done.Results[0].Records, len(items))
			}
			for i, row := range rows {
				matched := i%3 != 2
				if row["tracking_id"] != fmt.Sprintf("t%d", i) || fmt.Sprint(row["matched"]) != fmt.Sprint(matched) {
					t.Fatalf("row %d: %v", i, row)
				}
			}
			f.checkLedger(t, done)
		})
	}
}

func TestRedeliverySettlesOnce(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{PartSize: 4})
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 10, Format: jobs.CSV})
	for range 2 {
		if err := f.process(t, t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	done := f.job(t, j.ID)
	if done.Attempts != 1 || done.TotalCost != 10 {
		t.Fatalf("attempts %d, total_cost %d; want 1 and 10", done.Attempts, done.TotalCost)
	}
	if posts := f.journal(t, j.ID, credit.EntryPost); len(posts) != 1 || posts[0].Amount != 10 {
		t.Fatalf("posts for the job: %+v, want one of 10", posts)
	}
	f.checkLedger(t, done)

	// Two deliveries at once, as when asynq thinks a worker died: one
	// settles, and the results the other wrote over stay.
	j = f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 10, Format: jobs.JSON})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := f.handler.ProcessTask(t.Context(), worker.NewRunTask(j.Account, j.ID)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done = f.job(t, j.ID)
	if posts := f.journal(t, j.ID, credit.EntryPost); done.Status != jobs.Succeeded || len(posts) != 1 || posts[0].Amount != 10 {
		t.Fatalf("concurrent deliveries: %s, posts %+v", done.Status, posts)
	}
	var sum int64
	for _, rf := range done.Results {
		_, rows := parseRows(t, jobs.JSON, f.download(t, rf.Key))
		sum += int64(len(rows))
	}
	if sum != 10 {
		t.Fatalf("concurrent deliveries left %d records in the files, want 10", sum)
	}
	f.checkLedger(t, done)
}

func TestCancelQueued(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{})
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 10})
	info, err := f.inspector.GetTaskInfo(worker.QueueName, j.ID)
	if err != nil || info.State != asynq.TaskStatePending || info.Type != worker.TypeRun {
		t.Fatalf("the task after submit: %+v, %v", info, err)
	}
	// Enqueueing again is harmless: the task id is taken.
	if err := f.queue.Enqueue(t.Context(), j); err != nil {
		t.Fatalf("enqueue again: %v", err)
	}
	canceled, err := f.svc.Cancel(t.Context(), f.account, j.ID)
	if err != nil || canceled.Status != jobs.Canceled {
		t.Fatalf("cancel: %+v %v", canceled.Status, err)
	}
	if _, err := f.inspector.GetTaskInfo(worker.QueueName, j.ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("the task after cancel: %v, want ErrTaskNotFound", err)
	}
	r, err := f.ledger.Reservation(t.Context(), f.account, j.ID)
	if err != nil || r.State != credit.Voided || r.Released != 10 {
		t.Fatalf("reservation: %+v %v", r, err)
	}
	// A cancel of a task that is gone succeeds, and a late delivery does
	// nothing.
	if err := f.queue.Cancel(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if err := f.process(t, t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if got := f.job(t, j.ID); got.Status != jobs.Canceled || got.Attempts != 0 {
		t.Fatalf("after a late delivery: %s, %d attempts", got.Status, got.Attempts)
	}
	f.checkLedger(t, j)
}

// gatedSource streams a few records, then says so and waits for its ctx to
// end, as a long download would.
type gatedSource struct {
	source.Source
	after   int
	reached chan struct{}
}

func (g *gatedSource) Search(ctx context.Context, dt, q string, limit int) (source.Results, error) {
	res, err := g.Source.Search(ctx, dt, q, limit)
	if err != nil {
		return res, err
	}
	inner := res.Records
	res.Records = func(yield func(source.Record, error) bool) {
		n := 0
		for rec, err := range inner {
			if err != nil || !yield(rec, nil) {
				return
			}
			if n++; n == g.after {
				close(g.reached)
				<-ctx.Done()
				yield(source.Record{}, ctx.Err())
				return
			}
		}
	}
	return res, nil
}

// recordingHandler passes tasks to the handler and reports what it returned.
type recordingHandler struct {
	h   *worker.Handler
	out chan error
}

func (r recordingHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	err := r.h.ProcessTask(ctx, t)
	r.out <- err
	return err
}

func startServer(t *testing.T, f *fixture, h asynq.Handler) {
	t.Helper()
	srv := worker.NewServer(asynq.RedisClientOpt{Addr: f.redis.Addr()}, 2, f.handler)
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// wait waits for the handler's next return, or fails the test when none
// comes (a safety net, not a measure).
func wait(t *testing.T, out chan error) error {
	t.Helper()
	select {
	case err := <-out:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the handler did not return")
		return nil
	}
}

func TestCancelRunning(t *testing.T) {
	gate := &gatedSource{Source: openDataset(t, people), after: 30, reached: make(chan struct{})}
	f := newFixture(t, gate, worker.HandlerConfig{ProgressEvery: 10})
	out := make(chan error, 4)
	startServer(t, f, recordingHandler{f.handler, out})

	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.People, NumRecords: 500})
	<-gate.reached
	running := f.job(t, j.ID)
	if running.Status != jobs.Running || running.Progress.Done != 30 || running.Progress.Total != 500 {
		t.Fatalf("while running: %s, progress %+v", running.Status, running.Progress)
	}
	info, err := f.inspector.GetTaskInfo(worker.QueueName, j.ID)
	if err != nil || info.State != asynq.TaskStateActive {
		t.Fatalf("the task while running: %+v %v", info, err)
	}
	canceled, err := f.svc.Cancel(t.Context(), f.account, j.ID)
	if err != nil || canceled.Status != jobs.Canceled {
		t.Fatalf("cancel: %v %v", canceled.Status, err)
	}
	// The job has ended, so the handler calls its task done. (asynq itself
	// may still schedule a retry of a task whose ctx it canceled; that
	// delivery finds the job ended and acks.)
	if err := wait(t, out); err != nil {
		t.Fatalf("the handler returned %v, want nil", err)
	}
	r, err := f.ledger.Reservation(t.Context(), f.account, j.ID)
	if err != nil || r.State != credit.Voided || r.Released != 500 {
		t.Fatalf("reservation: %s released %d, %v; want voided, 500", r.State, r.Released, err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, storage.ResultKey(f.account, j.ID, 1, jobs.CSV))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a canceled download left a result file: %v", err)
	}
	if posts := f.journal(t, j.ID, credit.EntryPost); len(posts) != 0 {
		t.Fatalf("a canceled job posted %+v", posts)
	}
	f.checkLedger(t, j)
}

// failingSource fails every search, as an upstream that is down would.
type failingSource struct{ source.Source }

func (failingSource) Search(context.Context, string, string, int) (source.Results, error) {
	return source.Results{}, errors.New("upstream unavailable")
}

func TestFailAtRetryCap(t *testing.T) {
	f := newFixture(t, failingSource{openDataset(t, 10)}, worker.HandlerConfig{})
	f.queue.MaxRetry = 1
	out := make(chan error, 4)
	startServer(t, f, recordingHandler{f.handler, out})
	j := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, NumRecords: 5})

	if err := wait(t, out); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("the first run returned %v, want an error to retry", err)
	}
	if got := f.job(t, j.ID); got.Status != jobs.Running {
		t.Fatalf("after the first run: %s, want running until retries run out", got.Status)
	}
	if err := wait(t, out); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("the last run returned %v, want SkipRetry", err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Failed || done.Error != "The job failed on each of its 2 attempts, the last while searching. Nothing was charged." {
		t.Fatalf("job: %s %q", done.Status, done.Error)
	}
	f.checkLedger(t, done)
}

func TestFailPermanently(t *testing.T) {
	dir := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "properties.jsonl")); err != nil {
		t.Fatal(err)
	}
	d, err := dataset.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := newFixture(t, d, worker.HandlerConfig{}, "properties-10k-349")
	j := f.submit(t, jobs.Spec{Kind: jobs.Download, DataType: source.Properties, NumRecords: 5})
	if err := f.process(t, t.Context(), j); !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, source.ErrUnknownDataType) {
		t.Fatalf("ProcessTask: %v, want SkipRetry and ErrUnknownDataType", err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Failed || done.Error == "" || done.CreditsReleased != 5 {
		t.Fatalf("job: %s %q, released %d", done.Status, done.Error, done.CreditsReleased)
	}
	f.checkLedger(t, done)

	for _, bad := range []*asynq.Task{
		asynq.NewTask(worker.TypeRun, []byte("{")),
		asynq.NewTask(worker.TypeRun, []byte(`{"account":"acme"}`)),
		asynq.NewTask("job:other", nil),
		worker.NewRunTask("acme", "job_unknown"),
	} {
		if err := f.handler.ProcessTask(t.Context(), bad); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("task %s %s: %v, want SkipRetry", bad.Type(), bad.Payload(), err)
		}
	}
}

func TestAttemptsCapped(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{MaxAttempts: 2})
	j := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, NumRecords: 5})
	// Two runs that died without a word (asynq counts no retry for them).
	for range 2 {
		if _, err := f.svc.Start(t.Context(), f.account, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.process(t, t.Context(), j); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("the third run: %v, want SkipRetry", err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Failed || done.Error != "The job was started 2 times without finishing. Nothing was charged." || done.CreditsReleased != 5 {
		t.Fatalf("job: %s %q, released %d", done.Status, done.Error, done.CreditsReleased)
	}
	f.checkLedger(t, done)
}

// blockingStart is the jobs service with a StartJob that waits for the
// delivery's ctx to end, then fails with its error, as a start cut short by
// a cancel or a shutdown does.
type blockingStart struct {
	*jobs.Service
	started chan struct{}
}

func (b blockingStart) StartJob(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	close(b.started)
	<-ctx.Done()
	return jobs.Job{}, fmt.Errorf("start %s: %w", j.ID, ctx.Err())
}

// TestShutdownOnLastRetryIsNoFailure shuts a worker down while the last
// delivery of a task starts the job: asynq puts the task back, and the job
// is not failed (the old handler failed it, no retry being left), so the
// next worker runs it; its reservation stays open meanwhile.
func TestShutdownOnLastRetryIsNoFailure(t *testing.T) {
	f := newFixture(t, nil, worker.HandlerConfig{})
	f.queue.MaxRetry = 0 // the first delivery is the last
	started := make(chan struct{})
	h := worker.NewHandler(worker.HandlerConfig{Service: blockingStart{f.svc, started}, Source: openDataset(t, 10), Storage: f.files,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	out := make(chan error, 4)
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: f.redis.Addr()}, asynq.Config{
		Concurrency: 1, Queues: map[string]int{worker.QueueName: 1}, ShutdownTimeout: 100 * time.Millisecond,
		Logger: quietLogger{},
	})
	if err := srv.Start(recordingHandler{h, out}); err != nil {
		t.Fatal(err)
	}

	j := f.submit(t, jobs.Spec{Kind: jobs.Search, DataType: source.People, NumRecords: 5})
	select {
	case <-started:
	case <-time.After(time.Minute): // a safety net, not a measure
		t.Fatal("the task never started")
	}
	srv.Shutdown()
	if err := wait(t, out); err == nil || errors.Is(err, asynq.SkipRetry) || !errors.Is(err, context.Canceled) {
		t.Fatalf("the delivery cut short by the shutdown returned %v, want ctx's error", err)
	}
	if got := f.job(t, j.ID); got.Status != jobs.Queued || got.Error != "" {
		t.Fatalf("job after the shutdown: %s %q, want it still queued", got.Status, got.Error)
	}
	info, err := f.inspector.GetTaskInfo(worker.QueueName, j.ID)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("task after the shutdown: %+v, %v; want it pending again", info, err)
	}
	r, err := f.ledger.Reservation(t.Context(), f.account, j.ID)
	if err != nil || r.State != credit.Reserved {
		t.Fatalf("reservation %+v, %v; want it open", r, err)
	}

	// The next worker runs it.
	startServer(t, f, recordingHandler{f.handler, out})
	if err := wait(t, out); err != nil {
		t.Fatalf("the next delivery: %v", err)
	}
	done := f.job(t, j.ID)
	if done.Status != jobs.Succeeded {
		t.Fatalf("job after the next delivery: %s %q", done.Status, done.Error)
	}
	f.checkLedger(t, done)
}

// quietLogger drops asynq's own log lines.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

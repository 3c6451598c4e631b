package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
)

// TestExpiredResults shows a job whose result files went past the result
// retention: results is [] and results_expired_at says when, on the job
// and on /results.
func TestExpiredResults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The expiry deletes files, so its service has the storage.
	js := jobstore.New(e.client, jobstore.Options{Prefix: e.prefix})
	svc := jobs.NewService(jobs.Config{Ledger: e.ledger, Store: js, Queue: e.queue, Accounts: js, Catalog: plan.Builtin(),
		Objects: e.store, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }})
	if _, err := svc.CreateAccount(ctx, "exp", "Exp", []string{"people-1k-99"}); err != nil {
		t.Fatal(err)
	}
	key, err := e.api.CreateKey(ctx, api.RoleUser, "exp")
	if err != nil {
		t.Fatal(err)
	}
	j, err := svc.Submit(ctx, "exp", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, "exp", j.ID); err != nil {
		t.Fatal(err)
	}
	fk := storage.ResultKey("exp", j.ID, 1, jobs.CSV)
	n, err := e.store.Put(ctx, fk, strings.NewReader("id\nper_1\n"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldNone}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Complete(ctx, "exp", j.ID, jobs.Outcome{Found: 1, Delivered: 1, Results: []jobs.ResultFile{{Key: fk, Format: jobs.CSV, Records: 1, Bytes: n}}}); err != nil {
		t.Fatal(err)
	}
	before := e.do(t, req{method: http.MethodGet, path: "/v1/jobs/" + j.ID, key: key}).json(t)
	if rs, _ := before["results"].([]any); len(rs) != 1 || before["results_expired_at"] != nil {
		t.Fatalf("before expiry: %v", before)
	}
	if _, err := svc.ExpireResults(ctx, "exp", j.ID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/jobs/" + j.ID, "/v1/jobs/" + j.ID + "/results"} {
		r := e.do(t, req{method: http.MethodGet, path: path, key: key})
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		m := r.json(t)
		if rs, ok := m["results"].([]any); !ok || len(rs) != 0 || m["results_expired_at"] == nil {
			t.Fatalf("%s after expiry: %s", path, r.body)
		}
	}
}

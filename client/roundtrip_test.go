package client_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// TestSubmitWaitDownload runs a download from submit to files on disk: the
// worker writes three parts, WaitJob reports progress until it ends, and
// DownloadResults writes 1.csv, 2.csv and 3.csv of the sizes and record
// counts the API gives; a second call fetches nothing again.
func TestSubmitWaitDownload(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	account, c, _ := s.account(t, "people-1k-99")
	ctx := t.Context()

	sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 25, Format: client.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Job.Status != client.StatusQueued || sub.Meta.Requested != 25 || sub.Meta.CreditsReserved != 25 || sub.Meta.Partial {
		t.Fatalf("submitted %+v", sub)
	}
	var polls int
	job, err := c.WaitJob(ctx, sub.Job.ID, client.WithProgress(func(j *client.Job) { polls++ }))
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != client.StatusSucceeded || job.TotalCost != 25 || len(job.Results) != 3 || polls < 1 {
		t.Fatalf("job %+v after %d polls", job, polls)
	}

	var files atomic.Int64
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.HasPrefix(r.URL.Path, "/v1/files/") {
			if r.Header.Get("Authorization") != "" {
				t.Errorf("a result link was fetched with Authorization")
			}
			files.Add(1)
		}
		next.ServeHTTP(w, r)
	})
	dir := filepath.Join(t.TempDir(), "out")
	var progressed int64
	got, err := c.DownloadResults(ctx, job.ID, dir, client.WithDownloadProgress(func(name string, written, total int64) {
		if written > total {
			t.Errorf("%s: progress %d of %d", name, written, total)
		}
		progressed = written
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || files.Load() != 3 || progressed == 0 {
		t.Fatalf("%d files after %d fetches: %+v", len(got), files.Load(), got)
	}
	var records int64
	for i, f := range got {
		if want := filepath.Join(dir, []string{"1.csv", "2.csv", "3.csv"}[i]); f.Path != want {
			t.Fatalf("file %d at %s, want %s", i, f.Path, want)
		}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != f.Result.Bytes || f.Resumed != 0 {
			t.Fatalf("%s: %d bytes (resumed %d), the API says %d", f.Path, len(b), f.Resumed, f.Result.Bytes)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)-1) != f.Result.Records {
			t.Fatalf("%s: %d rows, the API says %d", f.Path, len(rows)-1, f.Result.Records)
		}
		records += f.Result.Records
	}
	if records != 25 {
		t.Fatalf("%d records in the files, want 25", records)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(left) != 0 {
		t.Fatalf(".part files left: %v", left)
	}

	// Complete files are not fetched again.
	if _, err := c.DownloadResults(ctx, job.ID, dir); err != nil || files.Load() != 3 {
		t.Fatalf("second download: %v, %d fetches in all", err, files.Load())
	}

	// The rest of the customer's side on the same job.
	page, err := c.ListJobs(ctx, client.JobsQuery{Kind: client.KindDownload})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != job.ID || page.NextCursor != "" {
		t.Fatalf("ListJobs: %+v, %v", page, err)
	}
	if _, err := c.CancelJob(ctx, job.ID); !client.IsCode(err, client.CodeConflict) {
		t.Fatalf("cancel of an ended job: %v, want 409 conflict", err)
	}
	acct, err := c.GetAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := acct.Pools["people"]; acct.ID != account || acct.Role != client.RoleUser || p.Used != 25 || p.Reserved != 0 || acct.Usage == nil || acct.Usage.Downloads != 1 {
		t.Fatalf("account %+v, usage %+v", acct, acct.Usage)
	}
	led, err := c.Ledger(ctx, client.LedgerQuery{Pool: "people"})
	if err != nil {
		t.Fatal(err)
	}
	var types []client.EntryType
	for _, e := range led.Entries {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, client.EntryReserve) || !slices.Contains(types, client.EntryPost) {
		t.Fatalf("journal types %v, want a reserve and a post", types)
	}
	s.check(t, account)
}

// TestSearchRecords gets a search's records inline, and DownloadResults
// says a search has no files.
func TestSearchRecords(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	_, c, _ := s.account(t, "people-1k-99")
	sub, err := c.Search(t.Context(), client.SearchRequest{DataType: "people", Query: "*", NumRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.WaitJob(t.Context(), sub.Job.ID)
	if err != nil || job.Status != client.StatusSucceeded || len(job.Records) == 0 {
		t.Fatalf("search: %+v, %v", job, err)
	}
	res, err := c.GetResults(t.Context(), job.ID)
	if err != nil || len(res.Records) == 0 || len(res.Results) != 0 {
		t.Fatalf("results of a search: %+v, %v", res, err)
	}
	if _, err := c.DownloadResults(t.Context(), job.ID, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no result files") {
		t.Fatalf("DownloadResults of a search: %v", err)
	}
}

// TestAdmin covers the admin calls: keys of an account and staff keys,
// listing and revoking them, and credits.
func TestAdmin(t *testing.T) {
	s := newStack(t)
	admin, _ := s.client(t, s.adminKey)
	ctx := t.Context()
	created, err := admin.CreateAccount(ctx, client.CreateAccountRequest{ID: "acme", Name: "Acme", Plans: []string{"people-1k-99"}})
	if err != nil || created.Account.ID != "acme" || !strings.HasPrefix(created.APIKey, "cr_") {
		t.Fatalf("CreateAccount: %+v, %v", created, err)
	}
	if _, err := admin.CreateAccount(ctx, client.CreateAccountRequest{ID: "acme", Plans: []string{"people-1k-99"}}); !client.IsCode(err, client.CodeConflict) {
		t.Fatalf("second account acme: %v, want 409 conflict", err)
	}
	if _, err := admin.CreateAccount(ctx, client.CreateAccountRequest{ID: "Bad Id!", Plans: []string{"people-1k-99"}}); err == nil {
		t.Fatal("an account id with spaces was taken")
	} else if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != http.StatusBadRequest || e.Field() != "id" {
		t.Fatalf("bad id: %#v, want a 400 about id", err)
	}

	pool, err := admin.ChangeCredits(ctx, "acme", client.CreditsRequest{Pool: "people", Amount: 500, Reason: "top-up"})
	if err != nil || pool.Allocated != 1500 || pool.Available != 1500 {
		t.Fatalf("top-up: %+v, %v", pool, err)
	}

	s.check(t, "acme")
}

// TestKeys covers the keys of an account and staff keys: creating,
// listing and revoking them. Listing and revoking are skipped on an API
// that does not serve them.
func TestKeys(t *testing.T) {
	s := newStack(t)
	admin, _ := s.client(t, s.adminKey)
	ctx := t.Context()
	if _, err := admin.CreateAccount(ctx, client.CreateAccountRequest{ID: "acme", Name: "Acme", Plans: []string{"people-1k-99"}}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateAccountKey(ctx, "acme", client.CreateKeyRequest{})
	if err != nil || k.Role != client.RoleUser || k.AccountID != "acme" || k.APIKey == "" {
		t.Fatalf("CreateAccountKey: %+v, %v", k, err)
	}
	fin, err := admin.CreateKey(ctx, client.CreateKeyRequest{Role: client.RoleFinance})
	if err != nil || fin.Role != client.RoleFinance || fin.AccountID != "" {
		t.Fatalf("CreateKey: %+v, %v", fin, err)
	}
	user, _ := s.client(t, k.APIKey)
	if _, err := user.GetAccount(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := user.CreateKey(ctx, client.CreateKeyRequest{Role: client.RoleAdmin}); !client.IsCode(err, client.CodeForbidden) {
		t.Fatalf("a user key making an admin key: %v, want 403", err)
	}
	keys, err := admin.ListAccountKeys(ctx, "acme")
	if e, ok := errors.AsType[*client.Error](err); ok && e.Code == client.CodeNotFound && e.Message == "No such endpoint." {
		t.Skip("this API does not list keys")
	}
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAccountKeys: %+v, %v", keys, err)
	}
	all, err := admin.ListKeys(ctx)
	ids := map[string]bool{}
	for _, key := range all {
		ids[key.ID] = true
	}
	if err != nil || !ids[k.ID] || !ids[fin.ID] {
		t.Fatalf("ListKeys: %+v, %v; want %s and %s among them", all, err, k.ID, fin.ID)
	}
	revoked, err := admin.RevokeKey(ctx, k.ID)
	if err != nil || revoked.ID != k.ID {
		t.Fatalf("RevokeKey: %+v, %v", revoked, err)
	}
	if _, err := user.GetAccount(ctx); !client.IsCode(err, client.CodeUnauthorized) {
		t.Fatalf("revoked key: %v, want 401 unauthorized", err)
	}
}

// TestEnrich enriches two items by record id, one that matches and one
// that does not, and reads the result rows.
func TestEnrich(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	account, c, _ := s.account(t, "people-1k-99")
	ctx := t.Context()
	search, err := c.Search(ctx, client.SearchRequest{DataType: "people", Query: "*", NumRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	found, err := c.WaitJob(ctx, search.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var records []map[string]any
	if err := json.Unmarshal(found.Records, &records); err != nil || len(records) != 1 {
		t.Fatalf("search records %s: %v", found.Records, err)
	}
	sub, err := c.Enrich(ctx, client.EnrichmentRequest{
		DataType: "people", MatchOn: []string{"id"}, Format: client.FormatJSONL,
		Items: []map[string]any{{"tracking_id": "t1", "id": records[0]["id"]}, {"tracking_id": "t2", "id": "no-such-id"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Meta.Requested != 2 || sub.Meta.TrackingIDToJobID["t1"] != sub.Job.ID || sub.Meta.TrackingIDToJobID["t2"] != sub.Job.ID {
		t.Fatalf("meta %+v", sub.Meta)
	}
	job, err := c.WaitJob(ctx, sub.Job.ID)
	if err != nil || job.Status != client.StatusSucceeded {
		t.Fatalf("enrichment %+v, %v", job, err)
	}
	files, err := c.DownloadResults(ctx, job.ID, t.TempDir())
	if err != nil || len(files) != 1 || filepath.Base(files[0].Path) != "1.jsonl" {
		t.Fatalf("files %+v, %v", files, err)
	}
	b, err := os.ReadFile(files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 || rows[0]["tracking_id"] != "t1" || rows[0]["matched"] != true || rows[1]["matched"] != false {
		t.Fatalf("rows %v", rows)
	}
	s.check(t, account)
}

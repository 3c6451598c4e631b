package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// checkingTransport checks the headers every answer must carry
// (stack.checkHeaders) on each call the Go client makes, so that a test
// over the client still checks the protocol.
type checkingTransport struct {
	t   testing.TB
	s   *stack
	key string
}

func (c checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && !strings.HasPrefix(r.URL.Path, "/v1/files/") {
		c.s.checkHeaders(c.t, r.Method, r.URL.Path, c.key, reply{status: resp.StatusCode, header: resp.Header})
	}
	return resp, err
}

// client returns a Go client of the stack's API with key, whose every
// answer is checked as stack.call checks it.
func (s *stack) client(t testing.TB, key string) *client.Client {
	t.Helper()
	c, err := client.New(s.base, key, client.WithHTTPClient(&http.Client{Transport: checkingTransport{t: t, s: s, key: key}}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestE2EOverTheClient runs the customer's and finance's round trip over
// the Go client against `creditrun api` and `creditrun worker` processes:
// an admin makes an account and a finance key, a quote, a download that
// goes into overage, its results refused with overage_unpaid, the hold
// listed and paid by finance, then the files fetched to disk.
func TestE2EOverTheClient(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}})
	ctx := t.Context()
	admin := s.client(t, s.admin)
	acct, err := admin.CreateAccount(ctx, client.CreateAccountRequest{Name: "Client E2E", Plans: []string{"people-1k-99"}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.userKeys[acct.APIKey] = true
	s.mu.Unlock()
	t.Cleanup(func() { s.checkJournal(t, acct.Account.ID, acct.APIKey) })
	if _, err := admin.ChangeCredits(ctx, acct.Account.ID, client.CreditsRequest{Pool: "people", Amount: -995, Reason: "test setup"}); err != nil {
		t.Fatal(err)
	}
	fin, err := admin.CreateKey(ctx, client.CreateKeyRequest{Role: client.RoleFinance})
	if err != nil {
		t.Fatal(err)
	}
	user, finance := s.client(t, acct.APIKey), s.client(t, fin.APIKey)

	req := client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 12, Format: client.FormatCSV, OnInsufficient: client.PolicyOverage}
	q, err := user.Quote(ctx, client.DownloadQuote(req))
	if err != nil {
		t.Fatal(err)
	}
	if q.Outcome != client.OutcomeAccept || q.OverageCredits != 7 || q.AmountDueCents != 70 || q.ExpectedCost != 12 {
		t.Errorf("quote %+v", q)
	}
	sub, err := user.Download(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	job, err := user.WaitJob(ctx, sub.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != client.StatusSucceeded || job.Hold == nil || job.Hold.Status != client.HoldUnpaid || job.Hold.OverageCredits != 7 || len(job.Results) != 0 {
		t.Fatalf("job %+v", job)
	}
	dir := filepath.Join(t.TempDir(), "out")
	_, err = user.DownloadResults(ctx, job.ID, dir)
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Code != client.CodeOverageUnpaid || e.HoldID() != job.Hold.ID || e.AmountDueCents() != 70 {
		t.Fatalf("results of a held job: %v", err)
	}

	page, err := finance.ListHolds(ctx, client.HoldsQuery{Status: client.HoldUnpaid, Account: acct.Account.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Holds) != 1 || page.Holds[0].ID != job.Hold.ID || page.TotalDueCents != 70 {
		t.Fatalf("unpaid holds %+v", page)
	}
	paid, err := finance.PayHold(ctx, job.Hold.ID, client.PayHoldRequest{PaymentRef: "inv_e2e"})
	if err != nil || paid.Status != client.HoldPaid || paid.PaymentRef != "inv_e2e" {
		t.Fatalf("pay: %+v, %v", paid, err)
	}
	files, err := user.DownloadResults(ctx, job.ID, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("files %+v", files)
	}
	data, err := os.ReadFile(filepath.Join(dir, "1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(data), "\n") - 1; rows != 12 { // less the header row
		t.Errorf("1.csv has %d rows, want 12:\n%s", rows, data)
	}
	a, err := user.GetAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := a.Pools["people"]; p.OverageOutstanding != 0 || p.Used != 5 || p.Available != 0 {
		t.Errorf("pool after the payment %+v", p)
	}
}

package client_test

import (
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// TestInsufficientCredits reads a 402 as an *Error with the pool, the
// credits required and those available, asked once (a 402 is not retried),
// and nothing reserved.
func TestInsufficientCredits(t *testing.T) {
	s := newStack(t)
	account, c, sl := s.account(t, "people-1k-99")
	s.setAvailable(t, account, "people", 5)
	var posts int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost {
			posts++
		}
		next.ServeHTTP(w, r)
	})

	_, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 10, OnInsufficient: client.PolicyReject})
	e, ok := errors.AsType[*client.Error](err)
	if !ok {
		t.Fatalf("error %v is not a *client.Error", err)
	}
	if e.Status != http.StatusPaymentRequired || e.Code != client.CodeInsufficientCredits ||
		e.Required() != 10 || e.Available() != 5 || e.Pool() != "people" || e.RequestID == "" ||
		e.Message != "Not enough credits. Required: 10, Available: 5" {
		t.Fatalf("error %#v: required %d, available %d, pool %q", e, e.Required(), e.Available(), e.Pool())
	}
	if posts != 1 || len(sl.all()) != 0 {
		t.Fatalf("%d POSTs and waits %v for a 402, want 1 and none", posts, sl.all())
	}
	if s.queue.count() != 0 {
		t.Fatalf("%d jobs queued after a 402", s.queue.count())
	}
	s.check(t, account)
}

// TestOverageUnpaid runs a job into overage: its results are a 402
// overage_unpaid naming the hold until finance pays it, after which they
// download. ListHolds and ExportHolds show the hold.
func TestOverageUnpaid(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	account, c, _ := s.account(t, "people-1k-99")
	s.setAvailable(t, account, "people", 5)
	ctx := t.Context()
	sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 8, OnInsufficient: client.PolicyOverage})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.WaitJob(ctx, sub.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != client.StatusSucceeded || job.Hold == nil || job.Hold.Status != client.HoldUnpaid || job.Overage != 3 || len(job.Results) != 0 {
		t.Fatalf("job %+v, hold %+v", job, job.Hold)
	}

	_, err = c.DownloadResults(ctx, job.ID, t.TempDir())
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.Status != http.StatusPaymentRequired || e.Code != client.CodeOverageUnpaid ||
		e.HoldID() != job.Hold.ID || e.AmountDueCents() != job.Hold.AmountDueCents || e.AmountDueCents() != 30 || e.OverageCredits() != 3 {
		t.Fatalf("results of a held job: %v", err)
	}

	finance, _ := s.client(t, s.adminKey)
	page, err := finance.ListHolds(ctx, client.HoldsQuery{Status: client.HoldUnpaid, Account: account})
	if err != nil || len(page.Holds) != 1 || page.Holds[0].ID != job.Hold.ID || page.TotalDueCents != 30 || page.Holds[0].PaidAt != nil {
		t.Fatalf("ListHolds: %+v, %v", page, err)
	}
	rc, err := finance.ExportHolds(ctx, client.HoldsQuery{Account: account})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(rc).ReadAll()
	rc.Close()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][0] != job.Hold.ID {
		t.Fatalf("export: %v, %v", rows, err)
	}
	if _, err := c.ListHolds(ctx, client.HoldsQuery{}); !client.IsCode(err, client.CodeForbidden) {
		t.Fatalf("holds with a user key: %v, want 403", err)
	}

	paid, err := finance.PayHold(ctx, job.Hold.ID, client.PayHoldRequest{PaymentRef: "inv_1"})
	if err != nil || paid.Status != client.HoldPaid || paid.PaymentRef != "inv_1" || paid.PaidAt == nil {
		t.Fatalf("PayHold: %+v, %v", paid, err)
	}
	if _, err := finance.WaiveHold(ctx, job.Hold.ID, client.WaiveHoldRequest{Reason: "late"}); !client.IsCode(err, client.CodeConflict) {
		t.Fatalf("waive of a paid hold: %v, want 409 conflict", err)
	}
	files, err := c.DownloadResults(ctx, job.ID, t.TempDir())
	if err != nil || len(files) != 1 || files[0].Result.Records != 8 {
		t.Fatalf("results once paid: %+v, %v", files, err)
	}
	s.check(t, account)
}

// TestErrorOfAnotherShape keeps a non-JSON answer's status and text.
func TestErrorOfAnotherShape(t *testing.T) {
	s := newStack(t)
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>bad gateway</html>")
	})
	c, _ := s.client(t, "k")
	_, err := c.GetAccount(t.Context())
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.Status != http.StatusBadGateway || e.Code != "" || e.Message != "<html>bad gateway</html>" {
		t.Fatalf("error %#v", err)
	}
}

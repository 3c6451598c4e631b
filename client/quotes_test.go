package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// TestQuote asks quotes of a search, a download and an enrichment, one the
// pool covers, one it would cut and one it would refuse, and a bad one: the
// answers say what a submit would do, and nothing is reserved.
func TestQuote(t *testing.T) {
	s := newStack(t)
	account, c, _ := s.account(t, "people-1k-99")
	ctx := t.Context()

	q, err := c.Quote(ctx, client.SearchQuote(client.SearchRequest{DataType: "people", Query: "*", NumRecords: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if q.Kind != client.KindSearch || q.Outcome != client.OutcomeAccept || q.CreditsRequired != 5 || q.ExpectedCost != 5 ||
		q.NumFound == nil || *q.NumFound != 60 || q.Matched != nil || q.CreditsAvailable != 1100 { // 1,000 and the plan's overage limit of 100
		t.Errorf("search quote %+v", q)
	}

	s.setAvailable(t, account, "people", 3)
	q, err = c.Quote(ctx, client.DownloadQuote(client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 10, OnInsufficient: client.PolicyPartial}))
	if err != nil {
		t.Fatal(err)
	}
	if q.Outcome != client.OutcomePartial || q.PartialReason != "Only 3 credits remaining, but 10 requested" {
		t.Errorf("partial quote %+v", q)
	}
	q, err = c.Quote(ctx, client.EnrichmentQuote(client.EnrichmentRequest{DataType: "people", MatchOn: []string{"id"}, OnInsufficient: client.PolicyReject,
		Items: []map[string]any{{"tracking_id": "a", "id": "per_00000001"}, {"tracking_id": "b", "id": "per_00000002"},
			{"tracking_id": "c", "id": "per_00000003"}, {"tracking_id": "d", "id": "nope"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if q.Outcome != client.OutcomeReject || q.CreditsRequired != 4 || q.CreditsAvailable != 3 || q.Matched == nil || *q.Matched != 3 {
		t.Errorf("enrichment quote %+v", q)
	}

	_, err = c.Quote(ctx, client.SearchQuote(client.SearchRequest{DataType: "cars", Query: "*", NumRecords: 5}))
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != http.StatusBadRequest || e.Field() != "data_type" {
		t.Errorf("quote of an unknown data type: %v", err)
	}
	p, err := s.ledger.Pool(ctx, account, "people")
	if err != nil {
		t.Fatal(err)
	}
	if p.Available() != 3 || p.Reserved != 0 {
		t.Errorf("quotes moved credits: %+v", p)
	}
	s.check(t, account)
}

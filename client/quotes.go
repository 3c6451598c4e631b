package client

import "context"

// Outcome is what a submit would do now, as a quote says it.
type Outcome string

// The outcomes of a quote.
const (
	OutcomeAccept  Outcome = "accept"  // the job would run whole
	OutcomePartial Outcome = "partial" // the job would run cut to the credits
	OutcomeReject  Outcome = "reject"  // the submit would answer 402
)

// QuoteRequest is the body of POST /v1/quotes: the body of a submit of Kind,
// and the kind. Only the fields of that kind's submit are sent.
type QuoteRequest struct {
	Kind     Kind   `json:"kind"`
	DataType string `json:"data_type"`
	// Query and NumRecords are a search's or a download's.
	Query      string `json:"query,omitempty"`
	NumRecords int64  `json:"num_records,omitempty"`
	// MatchOn and Items are an enrichment's.
	MatchOn []string         `json:"match_on,omitempty"`
	Items   []map[string]any `json:"items,omitempty"`
	// Format is a download's or an enrichment's.
	Format         Format `json:"format,omitempty"`
	OnInsufficient Policy `json:"on_insufficient,omitempty"`
}

// SearchQuote is the QuoteRequest of the search req.
func SearchQuote(req SearchRequest) QuoteRequest {
	return QuoteRequest{Kind: KindSearch, DataType: req.DataType, Query: req.Query, NumRecords: req.NumRecords,
		OnInsufficient: req.OnInsufficient}
}

// DownloadQuote is the QuoteRequest of the download req.
func DownloadQuote(req DownloadRequest) QuoteRequest {
	return QuoteRequest{Kind: KindDownload, DataType: req.DataType, Query: req.Query, NumRecords: req.NumRecords,
		Format: req.Format, OnInsufficient: req.OnInsufficient}
}

// EnrichmentQuote is the QuoteRequest of the enrichment req.
func EnrichmentQuote(req EnrichmentRequest) QuoteRequest {
	return QuoteRequest{Kind: KindEnrichment, DataType: req.DataType, MatchOn: req.MatchOn, Items: req.Items,
		Format: req.Format, OnInsufficient: req.OnInsufficient}
}

// Quote is what a submit would do now and what its job would cost, as
// POST /v1/quotes answers it. Nothing was reserved or charged.
type Quote struct {
	Kind      Kind   `json:"kind"`
	DataType  string `json:"data_type"`
	Requested int64  `json:"requested"`
	// NumFound is the records the query matches (search, download); nil
	// for an enrichment.
	NumFound *int64 `json:"num_found"`
	// Matched is the items that match a record, duplicates included
	// (enrichment); nil for a search or a download.
	Matched           *int64 `json:"matched"`
	SkippedDuplicates int64  `json:"skipped_duplicates"`
	// CreditsRequired is what a submit would reserve now.
	CreditsRequired int64 `json:"credits_required"`
	// CreditsAvailable is the most the submit could reserve: the pool's
	// available credits, plus the overage headroom under the overage
	// policy.
	CreditsAvailable int64 `json:"credits_available"`
	// OverageCredits is the overage the reservation would take, and
	// AmountDueCents its price.
	OverageCredits int64 `json:"overage_credits"`
	AmountDueCents int64 `json:"amount_due_cents"`
	// Outcome is what a submit of the same body would do now.
	Outcome Outcome `json:"outcome"`
	// PartialReason says why a partial job would be cut; "" otherwise.
	PartialReason string `json:"partial_reason,omitempty"`
	// ExpectedCost is what the job would cost if it ran now.
	ExpectedCost int64 `json:"expected_cost"`
}

// Quote asks what a submit of req would do now (user key). It returns the
// 400s a submit of the same body would, and a 503 unavailable *Error from
// an API that has no dataset to count in. A submit that would be refused
// is not an error here: its Outcome is OutcomeReject.
func (c *Client) Quote(ctx context.Context, req QuoteRequest) (*Quote, error) {
	var out Quote
	// A quote changes nothing: a fresh Idempotency-Key per call is enough.
	if err := c.post(ctx, "/v1/quotes", "", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

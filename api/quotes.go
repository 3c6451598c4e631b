package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/creditrun/creditrun/jobs"
)

// Quotes is what the API needs of the jobs service to quote; *jobs.Service
// implements it.
type Quotes interface {
	// Quote says what a submit of spec would do now and what its job would
	// cost, reserving nothing. Returns the errors of Submit but a
	// *credit.InsufficientError (a refusal is the outcome reject), and
	// jobs.ErrNoSource without a dataset.
	Quote(ctx context.Context, account string, spec jobs.Spec) (jobs.Quote, error)
}

// quote is POST /v1/quotes: the body of a submit plus its "kind", decoded
// and checked as that submit's; 200 with what the submit would do now.
func (s *Server) quote(c *call) (int, any, error) {
	spec, err := decodeQuote(c.body)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkSpec(spec); err != nil { // as a submit checks it
		return 0, nil, err
	}
	q, err := s.jobs.Quote(c.r.Context(), c.p.Account, spec)
	if err != nil {
		return 0, nil, err
	}
	c.pool = q.Pool
	return http.StatusOK, q, nil
}

// decodeQuote decodes the body of a quote: "kind", and the rest as the body
// of the submit of that kind (decodeSpec), so that a quote is refused
// exactly as that submit would be.
func decodeQuote(body []byte) (jobs.Spec, error) {
	var fields map[string]json.RawMessage
	if err := decodeJSON(body, &fields, false); err != nil {
		return jobs.Spec{}, err
	}
	raw, ok := fields["kind"]
	if !ok {
		return jobs.Spec{}, fieldError("kind", "is required: search, download or enrichment")
	}
	var kind jobs.Kind
	if err := json.Unmarshal(raw, &kind); err != nil {
		return jobs.Spec{}, fieldError("kind", "must be a string: search, download or enrichment")
	}
	if !oneOf(kind, jobs.Search, jobs.Download, jobs.Enrichment) || kind == "" {
		return jobs.Spec{}, fieldError("kind", "must be search, download or enrichment, got %q", kind)
	}
	delete(fields, "kind")
	rest, err := json.Marshal(fields)
	if err != nil {
		return jobs.Spec{}, fieldError(bodyField, "is not valid JSON: %v", err)
	}
	return decodeSpec(kind, rest)
}

package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// Kind is what a job does.
type Kind string

// The kinds of jobs.
const (
	KindSearch     Kind = "search"
	KindDownload   Kind = "download"
	KindEnrichment Kind = "enrichment"
)

// Status is where a job is: queued → running → succeeded | failed |
// canceled.
type Status string

// The states of a job.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCanceled  Status = "canceled"
)

// Ended reports whether a job in this state is done: succeeded, failed or
// canceled.
func (s Status) Ended() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Format is the format of result files.
type Format string

// The result formats.
const (
	FormatCSV   Format = "csv"
	FormatJSON  Format = "json"
	FormatJSONL Format = "jsonl"
)

// Policy is what a submit does when the pool has too few credits.
type Policy string

// The policies of on_insufficient; "" takes the plan's.
const (
	PolicyReject  Policy = "reject"  // 402 insufficient_credits
	PolicyPartial Policy = "partial" // run what the credits cover
	PolicyOverage Policy = "overage" // run it all, the rest as overage
)

// SearchRequest is the body of POST /v1/searches.
type SearchRequest struct {
	DataType string `json:"data_type"`
	Query    string `json:"query"`
	// NumRecords is 1 to the API's maximum (1,000 for searches).
	NumRecords     int64  `json:"num_records"`
	OnInsufficient Policy `json:"on_insufficient,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one,
	// the same on every retry of this call.
	IdempotencyKey string `json:"-"`
}

// DownloadRequest is the body of POST /v1/downloads.
type DownloadRequest struct {
	DataType   string `json:"data_type"`
	Query      string `json:"query"`
	NumRecords int64  `json:"num_records"`
	// Format defaults to csv.
	Format         Format `json:"format,omitempty"`
	OnInsufficient Policy `json:"on_insufficient,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one,
	// the same on every retry of this call.
	IdempotencyKey string `json:"-"`
}

// EnrichmentRequest is the body of POST /v1/enrichments.
type EnrichmentRequest struct {
	DataType string `json:"data_type"`
	// MatchOn names the fields matched; ["id"] matches by record id.
	MatchOn []string `json:"match_on"`
	// Items are the records to enrich, each with a "tracking_id"; at most
	// 10,000.
	Items          []map[string]any `json:"items"`
	Format         Format           `json:"format,omitempty"`
	OnInsufficient Policy           `json:"on_insufficient,omitempty"`
	// IdempotencyKey is sent as Idempotency-Key; "" sends a random one,
	// the same on every retry of this call.
	IdempotencyKey string `json:"-"`
}

// Submitted is the answer to a submit: the queued job and what was
// reserved for it.
type Submitted struct {
	Job  Job  `json:"job"`
	Meta Meta `json:"meta"`
}

// Meta is what a submit reserved.
type Meta struct {
	Requested         int64 `json:"requested"`
	Processed         int64 `json:"processed"`
	CreditsReserved   int64 `json:"credits_reserved"`
	CreditsRemaining  int64 `json:"credits_remaining"`
	SkippedDuplicates int64 `json:"skipped_duplicates"`
	OverageReserved   int64 `json:"overage_reserved"`
	Partial           bool  `json:"partial"`
	// PartialReason says why a partial job was cut; "" when not partial.
	PartialReason string `json:"partial_reason,omitempty"`
	// TrackingIDToJobID maps each accepted enrichment item to its job.
	TrackingIDToJobID map[string]string `json:"tracking_id_to_job_id,omitempty"`
}

// Job is a job as GET /v1/jobs/{id} shows it.
type Job struct {
	ID       string `json:"id"`
	Kind     Kind   `json:"kind"`
	DataType string `json:"data_type"`
	// Query is a search's or a download's query.
	Query string `json:"query,omitempty"`
	// MatchOn is an enrichment's match fields.
	MatchOn []string `json:"match_on,omitempty"`
	Format  Format   `json:"format,omitempty"`
	Status  Status   `json:"status"`

	NumRecords      int64 `json:"num_records"`
	CreditsReserved int64 `json:"credits_reserved"`
	NumFound        int64 `json:"num_found"`
	TotalCost       int64 `json:"total_cost"`
	CreditsReleased int64 `json:"credits_released"`
	Overage         int64 `json:"overage"`

	// Hold is the job's overage hold, nil when it has none.
	Hold     *JobHold `json:"hold"`
	Progress Progress `json:"progress"`
	// Results are the result files of a download or an enrichment, present
	// when it succeeded and is not held (GetJob only; not in lists).
	Results []Result `json:"results,omitempty"`
	// Records are a search's records, present when it succeeded and is not
	// held.
	Records json.RawMessage `json:"records,omitempty"`
	// Error says why a failed job failed.
	Error string `json:"error,omitempty"`
	// ResultsExpiredAt is when the result files were deleted, past their
	// retention.
	ResultsExpiredAt *time.Time `json:"results_expired_at,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// JobHold is a job's overage hold, as the job shows it.
type JobHold struct {
	ID             string     `json:"id"`
	Status         HoldStatus `json:"status"`
	OverageCredits int64      `json:"overage_credits"`
	AmountDueCents int64      `json:"amount_due_cents"`
}

// Progress is how far a running job is.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Result is one result file: a link fetched with a plain GET and no
// Authorization until ExpiresAt.
type Result struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Format    Format    `json:"format"`
	Records   int64     `json:"records"`
	Bytes     int64     `json:"bytes"`
}

// Results is the answer of GET /v1/jobs/{id}/results.
type Results struct {
	// Results are the result files, in order; empty for a search.
	Results []Result `json:"results"`
	// Records are a search's records.
	Records json.RawMessage `json:"records,omitempty"`
	// ResultsExpiredAt is when the files were deleted, past their
	// retention; Results is empty from then on.
	ResultsExpiredAt *time.Time `json:"results_expired_at,omitempty"`
}

// Search submits a search (user key). It returns a 402
// insufficient_credits *Error when the pool cannot cover it under its
// policy.
func (c *Client) Search(ctx context.Context, req SearchRequest) (*Submitted, error) {
	return c.submit(ctx, "/v1/searches", req.IdempotencyKey, req)
}

// Download submits a download (user key), as Search does.
func (c *Client) Download(ctx context.Context, req DownloadRequest) (*Submitted, error) {
	return c.submit(ctx, "/v1/downloads", req.IdempotencyKey, req)
}

// Enrich submits an enrichment (user key), as Search does.
func (c *Client) Enrich(ctx context.Context, req EnrichmentRequest) (*Submitted, error) {
	return c.submit(ctx, "/v1/enrichments", req.IdempotencyKey, req)
}

func (c *Client) submit(ctx context.Context, path, idemKey string, body any) (*Submitted, error) {
	var out Submitted
	if err := c.post(ctx, path, idemKey, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetJob returns a job of the key's account, with its result links when it
// succeeded and is not held. Returns a 404 not_found *Error for an unknown
// id.
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Job
	if err := c.get(ctx, "/v1/jobs/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JobsQuery selects a page of jobs.
type JobsQuery struct {
	// Status and Kind filter; "" keeps all.
	Status Status
	Kind   Kind
	// Limit is the page size, 1 to 500; 0 is the API's default (50).
	Limit int
	// Cursor is a JobPage's NextCursor; "" is the first page.
	Cursor string
}

// JobPage is a page of jobs, newest first.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
}

// ListJobs returns a page of the account's jobs, newest first, without
// their results (user key).
func (c *Client) ListJobs(ctx context.Context, q JobsQuery) (*JobPage, error) {
	v := url.Values{}
	set(v, "status", string(q.Status))
	set(v, "kind", string(q.Kind))
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	var out JobPage
	if err := c.get(ctx, "/v1/jobs", v, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelJob cancels a queued or running job and voids its reservation, and
// returns the job. Returns a 409 conflict *Error when the job had ended.
func (c *Client) CancelJob(ctx context.Context, id string) (*Job, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Job
	if err := c.del(ctx, "/v1/jobs/"+pathEscape(id), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetResults returns a succeeded job's result links (and a search's
// records). Returns a 402 overage_unpaid *Error while the job's overage
// hold is unpaid (see Error.HoldID), and a 409 conflict *Error while the
// job has not succeeded.
func (c *Client) GetResults(ctx context.Context, id string) (*Results, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Results
	if err := c.get(ctx, "/v1/jobs/"+pathEscape(id)+"/results", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

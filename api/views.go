package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// jobView is a job as API.md's table shows it.
type jobView struct {
	ID       string      `json:"id"`
	Kind     jobs.Kind   `json:"kind"`
	DataType string      `json:"data_type"`
	Query    *string     `json:"query,omitempty"`
	MatchOn  []string    `json:"match_on,omitzero"`
	Format   jobs.Format `json:"format,omitempty"`
	Status   jobs.Status `json:"status"`

	NumRecords      int64 `json:"num_records"`
	CreditsReserved int64 `json:"credits_reserved"`
	NumFound        int64 `json:"num_found"`
	TotalCost       int64 `json:"total_cost"`
	CreditsReleased int64 `json:"credits_released"`
	Overage         int64 `json:"overage"`

	Hold     *holdView       `json:"hold"`
	Progress jobs.Progress   `json:"progress"`
	Results  []resultView    `json:"results,omitzero"`
	Records  json.RawMessage `json:"records,omitzero"`
	Error    string          `json:"error,omitempty"`
	// ResultsExpiredAt says when the result files were deleted, past the
	// result retention; results is [] from then on.
	ResultsExpiredAt *time.Time `json:"results_expired_at,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// holdView is a job's overage hold.
type holdView struct {
	ID             string            `json:"id"`
	Status         credit.HoldStatus `json:"status"`
	OverageCredits int64             `json:"overage_credits"`
	AmountDueCents int64             `json:"amount_due_cents"`
}

// resultView is one result file with its link.
type resultView struct {
	URL       string      `json:"url"`
	ExpiresAt time.Time   `json:"expires_at"`
	Format    jobs.Format `json:"format"`
	Records   int64       `json:"records"`
	Bytes     int64       `json:"bytes"`
}

// metaView is the meta of a 202.
type metaView struct {
	Requested         int64             `json:"requested"`
	Processed         int64             `json:"processed"`
	CreditsReserved   int64             `json:"credits_reserved"`
	CreditsRemaining  int64             `json:"credits_remaining"`
	SkippedDuplicates int64             `json:"skipped_duplicates"`
	OverageReserved   int64             `json:"overage_reserved"`
	Partial           bool              `json:"partial"`
	PartialReason     string            `json:"partial_reason,omitempty"`
	TrackingIDToJobID map[string]string `json:"tracking_id_to_job_id,omitzero"`
}

func newMetaView(j jobs.Job) metaView {
	m := j.Meta
	v := metaView{
		Requested: m.Requested, Processed: m.Processed, CreditsReserved: m.CreditsReserved,
		CreditsRemaining: m.CreditsRemaining, SkippedDuplicates: m.SkippedDuplicates,
		OverageReserved: m.OverageReserved, Partial: m.Partial, TrackingIDToJobID: m.TrackingIDToJobID,
	}
	if v.Partial {
		v.PartialReason = m.PartialReason
	}
	if j.Kind == jobs.Enrichment && v.TrackingIDToJobID == nil {
		v.TrackingIDToJobID = map[string]string{}
	}
	return v
}

// jobOptions says how much of a job to show.
type jobOptions struct {
	// results asks for the result links and a search's records, which a
	// job shows only when it succeeded and is not held.
	results bool
}

// viewJob renders a job. It reads the job's hold, and with opts.results
// makes the result links. It returns the hold too, for the gate.
func (s *Server) viewJob(ctx context.Context, j jobs.Job, opts jobOptions) (jobView, *credit.Hold, error) {
	v := jobView{
		ID: j.ID, Kind: j.Kind, DataType: j.DataType, Format: j.Format, Status: j.Status,
		NumRecords: j.NumRecords, CreditsReserved: j.CreditsReserved, NumFound: j.NumFound,
		TotalCost: j.TotalCost, CreditsReleased: j.CreditsReleased, Overage: j.Overage,
		Progress: j.Progress, CreatedAt: j.CreatedAt.UTC(),
		StartedAt: utc(j.StartedAt), FinishedAt: utc(j.FinishedAt), ResultsExpiredAt: utc(j.ResultsExpiredAt),
	}
	if j.Kind == jobs.Enrichment {
		v.MatchOn = j.MatchOn
		if v.MatchOn == nil {
			v.MatchOn = []string{}
		}
	} else {
		q := j.Query
		v.Query = &q
	}
	if j.Status == jobs.Failed {
		v.Error = j.Error
		if v.Error == "" {
			v.Error = "The job failed."
		}
	}
	var hold *credit.Hold
	if j.HoldID != "" {
		h, err := s.jobs.Hold(ctx, j)
		if err != nil {
			return jobView{}, nil, fmt.Errorf("hold of job %s: %w", j.ID, err)
		}
		hold = h
	}
	if hold != nil {
		v.Hold = &holdView{ID: hold.ID, Status: hold.Status, OverageCredits: hold.OverageCredits, AmountDueCents: hold.AmountDueCents}
	}
	if !opts.results || j.Status != jobs.Succeeded || held(hold) {
		return v, hold, nil
	}
	if j.Kind == jobs.Search {
		v.Records = j.Records
		if len(v.Records) == 0 || string(v.Records) == "null" {
			v.Records = json.RawMessage("[]")
		}
		return v, hold, nil
	}
	res, err := s.links(ctx, j)
	if err != nil {
		return jobView{}, nil, err
	}
	v.Results = res
	return v, hold, nil
}

// links makes a link to each of a job's result files.
func (s *Server) links(ctx context.Context, j jobs.Job) ([]resultView, error) {
	out := make([]resultView, 0, len(j.Results))
	for _, f := range j.Results {
		url, expires, err := s.cfg.Storage.URL(ctx, f.Key, s.cfg.LinkTTL)
		if err != nil {
			return nil, fmt.Errorf("link to %s: %w", f.Key, err)
		}
		out = append(out, resultView{URL: url, ExpiresAt: expires.UTC(), Format: f.Format, Records: f.Records, Bytes: f.Bytes})
	}
	return out, nil
}

// held reports whether a hold keeps a job's results back (I5).
func held(h *credit.Hold) bool { return h != nil && h.Status == credit.HoldUnpaid }

func utc(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// poolView is a pool as GET /v1/account and POST .../credits show it.
type poolView struct {
	Name      string `json:"name"`
	Allocated int64  `json:"allocated"`
	Used      int64  `json:"used"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	// GrantsAvailable is what the pool's active grants can still give,
	// part of Available.
	GrantsAvailable    int64     `json:"grants_available"`
	OverageEnabled     bool      `json:"overage_enabled"`
	OverageLimit       int64     `json:"overage_limit"`
	OverageReserved    int64     `json:"overage_reserved"`
	OverageOutstanding int64     `json:"overage_outstanding"`
	PeriodStart        time.Time `json:"period_start"`
	PeriodEnd          time.Time `json:"period_end"`
}

func newPoolView(p credit.Pool) poolView {
	return poolView{
		Name: p.Name, Allocated: p.Allocated, Used: p.Used, Reserved: p.Reserved,
		Available: max(p.Available(), 0), GrantsAvailable: p.GrantsAvailable, OverageEnabled: p.OverageEnabled, OverageLimit: p.OverageLimit,
		OverageReserved: p.OverageReserved, OverageOutstanding: p.OverageOutstanding,
		PeriodStart: p.PeriodStart.UTC(), PeriodEnd: p.PeriodEnd.UTC(),
	}
}

// accountView is an account as POST /v1/accounts answers it.
type accountView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	PlanIDs   []string  `json:"plan_ids"`
	CreatedAt time.Time `json:"created_at"`
}

func newAccountView(a jobs.Account) accountView {
	v := accountView{ID: a.ID, Name: a.Name, PlanIDs: a.PlanIDs, CreatedAt: a.CreatedAt.UTC()}
	if v.PlanIDs == nil {
		v.PlanIDs = []string{}
	}
	return v
}

// entryView is one journal entry.
type entryView struct {
	Seq            int64            `json:"seq"`
	At             time.Time        `json:"at"`
	Type           credit.EntryType `json:"type"`
	Pool           string           `json:"pool"`
	JobID          string           `json:"job_id,omitempty"`
	HoldID         string           `json:"hold_id,omitempty"`
	GrantID        string           `json:"grant_id,omitempty"`
	Amount         int64            `json:"amount"`
	AvailableAfter int64            `json:"available_after"`
	Reason         string           `json:"reason,omitempty"`
}

func newEntryView(e credit.Entry) entryView {
	return entryView{Seq: e.Seq, At: e.At.UTC(), Type: e.Type, Pool: e.Pool, JobID: e.JobID,
		HoldID: e.HoldID, GrantID: e.GrantID, Amount: e.Amount, AvailableAfter: e.AvailableAfter, Reason: e.Reason}
}

// grantView is a credit grant as POST and GET …/grants show it. An ended
// grant (expired or voided) shows remaining 0: what jobs in flight still
// hold from it is theirs, not the account's.
type grantView struct {
	ID     string `json:"id"`
	Pool   string `json:"pool"`
	Amount int64  `json:"amount"`
	// Remaining is Amount less what was posted from it.
	Remaining int64 `json:"remaining"`
	// ExpiresAt is null for a grant that never expires.
	ExpiresAt *time.Time         `json:"expires_at"`
	Priority  int64              `json:"priority"`
	Reason    string             `json:"reason"`
	CreatedAt time.Time          `json:"created_at"`
	Status    credit.GrantStatus `json:"status"`
}

func newGrantView(g credit.Grant) grantView {
	v := grantView{ID: g.ID, Pool: g.Pool, Amount: g.Amount, Remaining: g.Remaining,
		ExpiresAt: utc(&g.ExpiresAt), Priority: g.Priority, Reason: g.Reason,
		CreatedAt: g.CreatedAt.UTC(), Status: g.Status}
	if g.Status != credit.GrantActive {
		v.Remaining = 0
	}
	return v
}

// cursor renders a next cursor: null on the last page.
func cursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

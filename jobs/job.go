package jobs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Job is the record of one job, from submit to its end. Its JSON is the job of
// API.md less the parts the API adds when it answers (result URLs).
type Job struct {
	ID       string   `json:"id"`
	Account  string   `json:"account_id"`
	Kind     Kind     `json:"kind"`
	DataType string   `json:"data_type"`
	Query    string   `json:"query,omitempty"`
	Format   Format   `json:"format,omitempty"`
	MatchOn  []string `json:"match_on,omitempty"`
	// Pool is the pool the job reserved from.
	Pool   string `json:"pool"`
	Status Status `json:"status"`

	// NumRecords is the records or items to process after any partial cut.
	NumRecords int64 `json:"num_records"`
	// CreditsReserved is all that was held at submit, prepaid plus overage.
	CreditsReserved int64 `json:"credits_reserved"`
	// NumFound is the records the query matched (may exceed NumRecords), or
	// the items that matched a record.
	NumFound int64 `json:"num_found"`
	// TotalCost is the credits posted at settlement; 0 until then.
	TotalCost int64 `json:"total_cost"`
	// CreditsReleased is the credits given back at settlement or void.
	CreditsReleased int64 `json:"credits_released"`
	// Overage is the credits of TotalCost beyond the prepaid balance.
	Overage int64 `json:"overage"`
	// HoldID names the job's overage hold, if it has one.
	HoldID string `json:"hold_id,omitempty"`

	Progress Progress `json:"progress"`
	// Results are the job's result files (downloads and enrichments), set
	// when it succeeds.
	Results []ResultFile `json:"results,omitempty"`
	// Records are a search's records, inline, set when it succeeds.
	Records json.RawMessage `json:"records,omitempty"`
	// Error says why the job failed.
	Error string `json:"error,omitempty"`
	// ResultsExpiredAt is when the job's result files were deleted, past
	// the result retention; Results is empty from then on.
	ResultsExpiredAt *time.Time `json:"results_expired_at,omitempty"`

	// Meta is what the submit answered.
	Meta Meta `json:"meta"`
	// Dedup and ChargeAtAcceptance are the plan's terms the job ran under.
	Dedup              bool `json:"dedup,omitempty"`
	ChargeAtAcceptance bool `json:"charge_at_acceptance,omitempty"`
	// Attempts counts the runs a worker started.
	Attempts int `json:"attempts"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`

	// Rev is the store's revision of the record this job was read from or
	// written as (opaque, not part of the job): Store.UpdateFrom writes
	// without reading the record again while it is still at Rev.
	Rev string `json:"-"`
}

// Progress is how far a running job is.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// ResultFile is one result file of a job, as stored.
type ResultFile struct {
	// Key is the object's key in storage: results/<account>/<job>/<part>.<ext>.
	Key     string `json:"key"`
	Format  Format `json:"format"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

// Meta is the meta of a 202: what the submit asked for and what it got.
// CreditsRemaining, the pool's balance the reserve left, is part of the
// answer and not of the job: a job's record does not keep it.
type Meta struct {
	Requested         int64  `json:"requested"`
	Processed         int64  `json:"processed"`
	CreditsReserved   int64  `json:"credits_reserved"`
	CreditsRemaining  int64  `json:"-"`
	SkippedDuplicates int64  `json:"skipped_duplicates"`
	OverageReserved   int64  `json:"overage_reserved"`
	Partial           bool   `json:"partial"`
	PartialReason     string `json:"partial_reason,omitempty"`
	// TrackingIDToJobID maps each accepted enrichment item's tracking id to
	// the job id; dropped items are absent.
	TrackingIDToJobID map[string]string `json:"tracking_id_to_job_id,omitempty"`
}

// MetaOf builds the meta of a 202 from a reservation.
func MetaOf(r credit.Reservation) Meta {
	m := Meta{
		Requested:         r.Requested,
		Processed:         r.Processed,
		CreditsReserved:   r.Reserved(),
		CreditsRemaining:  r.Remaining,
		SkippedDuplicates: r.Skipped,
		OverageReserved:   r.Overage,
		Partial:           r.Partial(),
	}
	if m.Partial {
		m.PartialReason = PartialReason(r.Prepaid+r.Overage, r.Needed())
	}
	return m
}

// PartialReason is the sentence of a partial job: "Only A credits remaining,
// but N requested", where N is the credits needed.
func PartialReason(available, needed int64) string {
	return fmt.Sprintf("Only %d credits remaining, but %d requested", available, needed)
}

package jobs

// Kind is what a job does.
type Kind string

// The kinds of job.
const (
	// Search finds records and returns them inline, at most 1,000.
	Search Kind = "search"
	// Download finds records and writes them to result files.
	Download Kind = "download"
	// Enrichment matches the customer's items to records and writes one row
	// per item to result files.
	Enrichment Kind = "enrichment"
)

// Format is the format of a job's result files.
type Format string

// The result formats.
const (
	CSV   Format = "csv"   // a header row, then one row per record; nested fields flattened with dotted names
	JSON  Format = "json"  // one JSON array
	JSONL Format = "jsonl" // one JSON object per line
)

// Valid reports whether f is a known format.
func (f Format) Valid() bool { return f == CSV || f == JSON || f == JSONL }

// Ext is the file name extension of the format.
func (f Format) Ext() string { return string(f) }

// Status is where a job is in its life.
type Status string

// The states of a job: queued → running → succeeded | failed | canceled. A
// queued job may also fail (the reaper) or be canceled.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Canceled  Status = "canceled"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Queued, Running, Succeeded, Failed, Canceled:
		return true
	}
	return false
}

// Terminal reports whether a job in state s has ended.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed || s == Canceled }

// CanMove reports whether a job may go from state s to state to.
func (s Status) CanMove(to Status) bool {
	switch s {
	case Queued:
		return to == Running || to == Failed || to == Canceled
	case Running:
		return to == Succeeded || to == Failed || to == Canceled
	}
	return false
}

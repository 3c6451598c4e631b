package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

// Limits bound what one request may ask for.
type Limits struct {
	// MaxSearchRecords caps num_records of a search. Defaults to 1,000.
	MaxSearchRecords int64
	// MaxDownloadRecords caps num_records of a download. Defaults to 10,000,000.
	MaxDownloadRecords int64
	// MaxEnrichmentItems caps the items of an enrichment. Defaults to 10,000.
	MaxEnrichmentItems int
}

// DefaultLimits are the limits of API.md.
var DefaultLimits = Limits{MaxSearchRecords: 1_000, MaxDownloadRecords: 10_000_000, MaxEnrichmentItems: 10_000}

// Spec is a job as the client asked for it, after decoding. Fields a kind
// does not use stay zero.
type Spec struct {
	Kind     Kind   `json:"kind"`
	DataType string `json:"data_type"`
	// Query selects the records of a search or a download; empty selects all.
	Query string `json:"query,omitempty"`
	// NumRecords is the most records a search or a download delivers.
	NumRecords int64 `json:"num_records,omitempty"`
	// Format of the result files of a download or an enrichment. Defaults to
	// csv for a download and jsonl for an enrichment.
	Format Format `json:"format,omitempty"`
	// OnInsufficient overrides the plan's shortfall policy; empty keeps it.
	OnInsufficient credit.Policy `json:"on_insufficient,omitempty"`
	// MatchOn and Items are an enrichment's.
	MatchOn []string         `json:"match_on,omitempty"`
	Items   []map[string]any `json:"items,omitempty"`
}

// ErrInvalidSpec is wrapped by every *FieldError.
var ErrInvalidSpec = errors.New("invalid request")

// FieldError names the field of a request that is wrong, as a JSON path: a
// bare name at the top level ("num_records"), a dotted path inside
// ("items.3.tracking_id").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes every FieldError an ErrInvalidSpec.
func (e *FieldError) Unwrap() error { return ErrInvalidSpec }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Normalize fills defaults and checks s against the limits. It returns a
// *FieldError for the first field that is wrong, in the order of the fields
// of the request. knownDataType reports whether a data type is one the
// source offers (see CheckDataType for the check that lists them).
func (s *Spec) Normalize(limits Limits, knownDataType func(string) bool) error {
	switch s.Kind {
	case Search, Download, Enrichment:
	default:
		return fieldErr("kind", "must be search, download or enrichment, got %q", s.Kind)
	}
	if s.DataType == "" {
		return fieldErr("data_type", "is required")
	}
	if !knownDataType(s.DataType) {
		return fieldErr("data_type", "%q is not one this dataset has", s.DataType)
	}
	if s.OnInsufficient != "" && !s.OnInsufficient.Valid() {
		return fieldErr("on_insufficient", "must be reject, partial or overage, got %q", s.OnInsufficient)
	}
	if s.Kind == Enrichment {
		return s.normalizeEnrichment(limits)
	}
	n, err := query.Parse(s.Query)
	if err != nil {
		if se, ok := errors.AsType[*query.SyntaxError](err); ok {
			return fieldErr("query", "%s", se.Reason())
		}
		return fieldErr("query", "%v", err)
	}
	// A query that matches nothing costs nothing, so the work it implies is
	// bounded apart from credits (query.Cost, and the source's budget per
	// search at run time).
	if err := query.CheckCost(n); err != nil {
		ce, _ := errors.AsType[*query.CostError](err)
		return fieldErr("query", "%s", ce.Reason())
	}
	limit := limits.MaxSearchRecords
	if s.Kind == Download {
		limit = limits.MaxDownloadRecords
	}
	if s.NumRecords < 1 || s.NumRecords > limit {
		return fieldErr("num_records", "must be an integer from 1 to %d, got %d", limit, s.NumRecords)
	}
	switch {
	case s.Kind == Search:
		if s.Format != "" {
			return fieldErr("format", "a search returns its records inline and takes no format")
		}
	case s.Format == "":
		s.Format = CSV
	case !s.Format.Valid():
		return fieldErr("format", "must be csv, json or jsonl, got %q", s.Format)
	}
	if s.MatchOn != nil || s.Items != nil {
		return fieldErr("items", "only an enrichment takes items and match_on")
	}
	return nil
}

// CheckDataType checks a request's data type against the data types the
// source offers. It returns nil for one of them (or an empty data type,
// which Normalize refuses as required), and otherwise a *FieldError on
// data_type that lists them, sorted:
//
//	data_type "cars" is not one this dataset has: businesses, people, products, properties
func CheckDataType(dataType string, offered []string) error {
	if dataType == "" || slices.Contains(offered, dataType) {
		return nil
	}
	return fieldErr("data_type", "%q is not one this dataset has: %s", dataType, strings.Join(source.Sorted(offered), ", "))
}

// CheckQueryFields checks the fields a search or download's query names
// against fields, those of its data type (source.Source's QueryFields). It
// returns nil when each is one of them (or an object holding some), when
// fields is nil (the source does not say), and for a query that does not
// parse (Normalize reports that); otherwise a *FieldError on query that
// names the first unknown field and lists the data type's fields:
//
//	query names the field "CITY", which people records do not have (field names are case-sensitive); their fields are id, address.city, …
func CheckQueryFields(spec Spec, fields []string) error {
	if fields == nil || spec.Kind == Enrichment {
		return nil
	}
	n, perr := query.Parse(spec.Query)
	if perr != nil {
		return nil //nolint:nilerr // Normalize reports a query that does not parse
	}
	for _, f := range query.Fields(n) {
		if !source.KnowsField(fields, f.Field) {
			return fieldErr("query", "names the field %q, which %s records do not have (field names are case-sensitive); their fields are %s",
				f.Field, spec.DataType, strings.Join(fields, ", "))
		}
	}
	return nil
}

// QueryFields returns the fields a query on dataType may name, as the
// service's source lists them (for CheckQueryFields). It returns nil when
// the service has no source, when the source does not list them, or when
// the source lacks the data type (which the data type's own check
// reports).
func (s *Service) QueryFields(dataType string) ([]string, error) {
	if s.cfg.Source == nil {
		return nil, nil
	}
	fields, err := s.cfg.Source.QueryFields(dataType)
	if errors.Is(err, source.ErrUnknownDataType) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", dataType, err)
	}
	return fields, nil
}

// KnownDataType returns the check of Config.DataTypes and Normalize for the
// data types a source offers.
func KnownDataType(offered []string) func(string) bool {
	offered = slices.Clone(offered)
	return func(dt string) bool { return slices.Contains(offered, dt) }
}

func (s *Spec) normalizeEnrichment(limits Limits) error {
	if s.Query != "" || s.NumRecords != 0 {
		field := "query"
		if s.Query == "" {
			field = "num_records"
		}
		return fieldErr(field, "an enrichment takes items, not %s", field)
	}
	if len(s.MatchOn) == 0 {
		return fieldErr("match_on", "is required: the item fields to match records on, or [\"id\"]")
	}
	seen := map[string]bool{}
	for i, f := range s.MatchOn {
		if f == "" {
			return fieldErr("match_on."+strconv.Itoa(i), "is empty")
		}
		if seen[f] {
			return fieldErr("match_on."+strconv.Itoa(i), "repeats %q", f)
		}
		seen[f] = true
	}
	if len(s.Items) == 0 {
		return fieldErr("items", "is required: at least one item")
	}
	if len(s.Items) > limits.MaxEnrichmentItems {
		return fieldErr("items", "at most %d items a request, got %d", limits.MaxEnrichmentItems, len(s.Items))
	}
	// A tracking_id tells the customer which result row is which item, so
	// two items may not share one; items without one (or with "") are fine.
	tracked := map[string]int{}
	for i, it := range s.Items {
		if it == nil {
			return fieldErr("items."+strconv.Itoa(i), "must be an object")
		}
		if v, ok := it["tracking_id"]; ok {
			id, ok := v.(string)
			if !ok {
				return fieldErr("items."+strconv.Itoa(i)+".tracking_id", "must be a string")
			}
			if first, dup := tracked[id]; dup && id != "" {
				return fieldErr("items."+strconv.Itoa(i)+".tracking_id",
					"duplicates items.%d.tracking_id (%q): each item's tracking_id must be unique", first, id)
			}
			tracked[id] = i
		}
	}
	switch {
	case s.Format == "":
		s.Format = JSONL
	case !s.Format.Valid():
		return fieldErr("format", "must be csv, json or jsonl, got %q", s.Format)
	}
	return nil
}

// Requested is what the job asks to process: num_records, or the number of
// items.
func (s *Spec) Requested() int64 {
	if s.Kind == Enrichment {
		return int64(len(s.Items))
	}
	return s.NumRecords
}

// ItemRecordIDs returns, per item of an enrichment, the record id it names
// when it matches on id, and "" when its record is known only after matching.
// The ledger uses them to make records charged before free (dedup).
func (s *Spec) ItemRecordIDs() []string {
	ids := make([]string, len(s.Items))
	if len(s.MatchOn) != 1 || s.MatchOn[0] != "id" {
		return ids
	}
	for i, it := range s.Items {
		switch v := it["id"].(type) {
		case string:
			ids[i] = v
		case float64:
			ids[i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ids
}

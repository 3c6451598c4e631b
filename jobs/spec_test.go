package jobs_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/jobs"
)

func known(dt string) bool { return dt == "people" || dt == "businesses" }

// costly is the query of a customer who would keep workers busy for free: it
// matches nothing, and reads about every record 1,023 times over.
var costly = "NOT (" + strings.Repeat(`email:"gmail com" OR `, 1023) + "name:*)"

func TestNormalize(t *testing.T) {
	items := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"tracking_id": "t" + strconv.Itoa(i), "name": "x"}
		}
		return out
	}
	ok := []struct {
		name string
		spec jobs.Spec
		want jobs.Spec
	}{
		{"search", jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "city:Austin", NumRecords: 10},
			jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "city:Austin", NumRecords: 10}},
		{"search of everything", jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1000},
			jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1000}},
		{"download defaults to csv", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 10_000_000},
			jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 10_000_000, Format: jobs.CSV}},
		{"enrichment defaults to jsonl", jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"name"}, Items: items(2), OnInsufficient: "partial"},
			jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"name"}, Items: items(2), Format: jobs.JSONL, OnInsufficient: "partial"}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			if err := s.Normalize(jobs.DefaultLimits, known); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	bad := []struct {
		name  string
		spec  jobs.Spec
		field string
		msg   string
	}{
		{"no kind", jobs.Spec{DataType: "people", NumRecords: 1}, "kind", "must be"},
		{"no data type", jobs.Spec{Kind: jobs.Search, NumRecords: 1}, "data_type", "is required"},
		{"unknown data type", jobs.Spec{Kind: jobs.Search, DataType: "cars", NumRecords: 1}, "data_type", `"cars"`},
		{"bad policy", jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1, OnInsufficient: "maybe"}, "on_insufficient", "reject, partial or overage"},
		{"bad query", jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "city:(Austin", NumRecords: 1}, "query", "position"},
		{"query over the cost bound", jobs.Spec{Kind: jobs.Download, DataType: "people", Query: costly, NumRecords: 1}, "query", "costs 11257, more than the 8192 a query may cost"},
		{"zero records", jobs.Spec{Kind: jobs.Search, DataType: "people"}, "num_records", "from 1 to 1000"},
		{"negative records", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: -5}, "num_records", "from 1 to 10000000"},
		{"too many search records", jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1001}, "num_records", "from 1 to 1000"},
		{"huge download", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1 << 40}, "num_records", "from 1 to 10000000"},
		{"bad format", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1, Format: "xml"}, "format", "csv, json or jsonl"},
		{"search with format", jobs.Spec{Kind: jobs.Search, DataType: "people", NumRecords: 1, Format: "csv"}, "format", "inline"},
		{"download with items", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 1, Items: items(1)}, "items", "only an enrichment"},
		{"enrichment without match_on", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", Items: items(1)}, "match_on", "is required"},
		{"enrichment with empty match field", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name", ""}, Items: items(1)}, "match_on.1", "is empty"},
		{"enrichment with repeated match field", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name", "name"}, Items: items(1)}, "match_on.1", "repeats"},
		{"enrichment without items", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"}}, "items", "is required"},
		{"too many items", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"}, Items: items(10_001)}, "items", "at most 10000"},
		{"null item", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"}, Items: []map[string]any{{"name": "a"}, nil}}, "items.1", "object"},
		{"numeric tracking id", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"}, Items: []map[string]any{{"tracking_id": 3.0}}}, "items.0.tracking_id", "string"},
		{"duplicate tracking id", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"}, Items: []map[string]any{{"tracking_id": "a"}, {"tracking_id": "b"}, {"name": "x"}, {"tracking_id": "b"}}}, "items.3.tracking_id", `duplicates items.1.tracking_id ("b")`},
		{"enrichment with query", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", Query: "x:y", MatchOn: []string{"name"}, Items: items(1)}, "query", "takes items"},
		{"enrichment with num_records", jobs.Spec{Kind: jobs.Enrichment, DataType: "people", NumRecords: 3, MatchOn: []string{"name"}, Items: items(1)}, "num_records", "takes items"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			err := s.Normalize(jobs.DefaultLimits, known)
			fe, ok := errors.AsType[*jobs.FieldError](err)
			if !ok || !errors.Is(err, jobs.ErrInvalidSpec) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.msg) {
				t.Fatalf("got %s: %s; want %s: …%s…", fe.Field, fe.Message, tt.field, tt.msg)
			}
		})
	}
}

func TestItemRecordIDs(t *testing.T) {
	s := jobs.Spec{Kind: jobs.Enrichment, MatchOn: []string{"id"}, Items: []map[string]any{{"id": "p1"}, {"name": "x"}, {"id": 42.0}}}
	if got := s.ItemRecordIDs(); !cmp.Equal(got, []string{"p1", "", "42"}) {
		t.Fatalf("by id: %q", got)
	}
	s.MatchOn = []string{"name"}
	if got := s.ItemRecordIDs(); !cmp.Equal(got, []string{"", "", ""}) {
		t.Fatalf("by name: %q", got)
	}
}

func TestStatusMoves(t *testing.T) {
	for _, tt := range []struct {
		from, to jobs.Status
		ok       bool
	}{
		{jobs.Queued, jobs.Running, true}, {jobs.Queued, jobs.Canceled, true}, {jobs.Queued, jobs.Failed, true},
		{jobs.Queued, jobs.Succeeded, false}, {jobs.Running, jobs.Succeeded, true}, {jobs.Running, jobs.Queued, false},
		{jobs.Succeeded, jobs.Canceled, false}, {jobs.Canceled, jobs.Running, false}, {jobs.Failed, jobs.Succeeded, false},
	} {
		if got := tt.from.CanMove(tt.to); got != tt.ok {
			t.Errorf("%s -> %s: %v", tt.from, tt.to, got)
		}
	}
}

// A data type the source does not offer is refused on data_type with the list
// of those it does; the sample's and a custom one are accepted alike.
func TestCheckDataType(t *testing.T) {
	offered := []string{"people", "properties", "businesses", "products", "vehicles"}
	for _, dt := range append(offered, "") {
		if err := jobs.CheckDataType(dt, offered); err != nil {
			t.Errorf("CheckDataType(%q): %v", dt, err)
		}
	}
	err := jobs.CheckDataType("cars", offered)
	fe, ok := errors.AsType[*jobs.FieldError](err)
	if !ok || !errors.Is(err, jobs.ErrInvalidSpec) {
		t.Fatalf("CheckDataType(cars): %v, want a *FieldError", err)
	}
	want := `"cars" is not one this dataset has: businesses, people, products, properties, vehicles`
	if fe.Field != "data_type" || fe.Message != want {
		t.Errorf("CheckDataType(cars): %s: %s, want data_type: %s", fe.Field, fe.Message, want)
	}
	known := jobs.KnownDataType(offered)
	s := jobs.Spec{Kind: jobs.Search, DataType: "vehicles", NumRecords: 1}
	if err := s.Normalize(jobs.DefaultLimits, known); err != nil {
		t.Errorf("Normalize of a custom data type the source offers: %v", err)
	}
	s.DataType = "cars"
	if err := s.Normalize(jobs.DefaultLimits, known); err == nil || err.Error() != `data_type: "cars" is not one this dataset has` {
		t.Errorf("Normalize of cars: %v", err)
	}
}

// TestNormalizeNamesFieldOnce checks that a query error reads "query syntax
// error at position …" once the API puts the field's name before it: the
// message does not repeat the field.
func TestNormalizeNamesFieldOnce(t *testing.T) {
	s := jobs.Spec{Kind: jobs.Search, DataType: "people", Query: "city:(Austin", NumRecords: 1}
	err := s.Normalize(jobs.DefaultLimits, known)
	fe, ok := errors.AsType[*jobs.FieldError](err)
	if !ok {
		t.Fatalf("got %v, want a *FieldError", err)
	}
	if want := "syntax error at position 5: a group after a field is not supported: write (city:a OR city:b)"; fe.Message != want {
		t.Errorf("message %q, want %q", fe.Message, want)
	}
}

// TestNormalizeUntrackedItems checks that items without a tracking_id, or
// with an empty one, are not duplicates of each other.
func TestNormalizeUntrackedItems(t *testing.T) {
	s := jobs.Spec{Kind: jobs.Enrichment, DataType: "people", MatchOn: []string{"name"},
		Items: []map[string]any{{"name": "a"}, {"name": "b"}, {"tracking_id": ""}, {"tracking_id": ""}, {"tracking_id": "x"}}}
	if err := s.Normalize(jobs.DefaultLimits, known); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
}

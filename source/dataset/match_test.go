package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
)

// matchIDs runs a Match and returns, per item, the id it matched or "".
func matchIDs(t *testing.T, d *Dataset, dataType string, matchOn []string, items []source.Item) []string {
	t.Helper()
	stream, err := d.Match(t.Context(), dataType, matchOn, items)
	if err != nil {
		t.Fatalf("Match(%v): %v", matchOn, err)
	}
	got := []string{}
	for m, err := range stream {
		if err != nil {
			t.Fatalf("Match(%v) stream: %v", matchOn, err)
		}
		if m.Index != len(got) || m.Item == nil {
			t.Fatalf("match %d has index %d, item %v", len(got), m.Index, m.Item)
		}
		if m.Matched != (m.Record.ID != "") {
			t.Fatalf("match %d: Matched %v with record %q", m.Index, m.Matched, m.Record.ID)
		}
		if m.Matched && !json.Valid(m.Record.Raw) {
			t.Fatalf("match %d: record %s is not JSON", m.Index, m.Record.Raw)
		}
		got = append(got, m.Record.ID)
	}
	return got
}

func TestMatch(t *testing.T) {
	d := openFixture(t)
	tests := []struct {
		name     string
		dataType string
		matchOn  []string
		items    []source.Item
		want     []string
	}{
		{"by id", "businesses", []string{"id"}, []source.Item{
			{"tracking_id": "t1", "id": "biz_002"},
			{"id": "biz_999"},
			{"id": " biz_010 "},
			{"id": "BIZ_002"}, // ids are exact
			{"name": "no id"},
		}, []string{"biz_002", "", "biz_010", "", ""}},
		{"by normalized fields", "businesses", []string{"name", "postalCode"}, []source.Item{
			{"name": "Acme Coffee", "postalCode": "78702"},
			{"name": "  acme   COFFEE ", "postalCode": "78702"},
			{"name": "Acme-Coffee!", "postalCode": "78702"},
		}, []string{"biz_002", "biz_002", "biz_002"}},
		{"ties go to the lowest id", "businesses", []string{"name", "postalCode"}, []source.Item{
			// biz_003 "Acme Coffee, Inc." comes first in the file; biz_001
			// "ACME COFFEE INC" has the lower id.
			{"name": "acme coffee inc", "postalCode": "78701"},
			{"name": "Acme Coffee Inc."},
		}, []string{"biz_001", ""}},
		{"one field, several candidates", "businesses", []string{"name"}, []source.Item{
			{"name": "ACME coffee, inc"},
		}, []string{"biz_001"}},
		{"array fields match any element", "businesses", []string{"phones"}, []source.Item{
			{"phones": "512 555 0198"},
			{"phones": "(512) 555-0100"}, // biz_003 and biz_002
			{"phones": []any{"000", "512-555-0142"}},
		}, []string{"biz_001", "biz_002", "biz_010"}},
		{"numbers and strings", "businesses", []string{"postalCode", "name"}, []source.Item{
			{"postalCode": 78704.0, "name": "zilker bikes"},
			{"postalCode": json.Number("78701"), "name": "acme coffee inc"},
			{"postalCode": "78704", "name": "Zilker Bikes"},
		}, []string{"biz_010", "biz_001", "biz_010"}},
		{"nested paths", "properties", []string{"brokers.agent", "postalCode"}, []source.Item{
			{"brokers": map[string]any{"agent": "bob stevson"}, "postalCode": "78744"},
			{"brokers.agent": "ignored: items use nested objects"},
		}, []string{"prop_2", ""}},
		{"missing, empty and unknown fields match nothing", "people", []string{"name", "employer"}, []source.Item{
			{"name": "Jane Doe"},
			{"name": "Jane Doe", "employer": ""},
			{"name": "Jane Doe", "employer": nil},
			{"name": "José Álvarez", "employer": "---"},
			{"name": "John Smith", "employer": map[string]any{"x": 1}},
			{"name": "John Smith", "employer": "acme corp"},
		}, []string{"", "", "", "", "", "per_01"}},
		{"a field no record has", "people", []string{"nickname"}, []source.Item{{"nickname": "jo"}}, []string{""}},
		{"items that match nothing", "people", []string{"email"}, []source.Item{
			{"email": "nobody@example.com"},
			{"email": "JOHN.SMITH@example.com"},
		}, []string{"", "per_01"}},
		{"no items", "people", []string{"email"}, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matchIDs(t, d, tt.dataType, tt.matchOn, tt.items)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match(%v) ids (-want +got):\n%s", tt.matchOn, diff)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	d := openFixture(t)
	items := []source.Item{{"id": "per_01"}}
	if _, err := d.Match(t.Context(), "cars", []string{"id"}, items); !errors.Is(err, source.ErrUnknownDataType) {
		t.Errorf("unknown data type: %v", err)
	}
	for _, matchOn := range [][]string{nil, {}, {"name", " "}} {
		if _, err := d.Match(t.Context(), "people", matchOn, items); !errors.Is(err, source.ErrInvalidMatchOn) {
			t.Errorf("match on %q: %v, want ErrInvalidMatchOn", matchOn, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Match(ctx, "people", []string{"id"}, items); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled before: %v", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	stream, err := d.Match(ctx, "people", []string{"id"}, []source.Item{{"id": "per_01"}, {"id": "per_02"}, {"id": "per_03"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	var last error
	for m, err := range stream {
		if err != nil {
			last = err
			break
		}
		got = append(got, m.Index)
		cancel()
	}
	if !cmp.Equal(got, []int{0}) || !errors.Is(last, context.Canceled) {
		t.Errorf("canceled while streaming: got %v then %v", got, last)
	}
}

func TestValuesBuildStopsOnCancel(t *testing.T) {
	d := openFixture(t)
	tb := d.tables["businesses"]
	f := tb.field("name")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tb.valuesOf(ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled build: %v", err)
	}
	// The next use builds it.
	got := matchIDs(t, d, "businesses", []string{"name"}, []source.Item{{"name": "zilker bikes"}})
	if !cmp.Equal(got, []string{"biz_010"}) {
		t.Errorf("after a canceled build: %v", got)
	}
}

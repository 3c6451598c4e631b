package dataset

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
)

func TestFields(t *testing.T) {
	dir := writeDataset(t, map[string]string{"properties.jsonl": strings.Join([]string{
		`{"id":"p1","zip":"1","address":{"city":"Austin","geo":{"lat":1}},"tags":["a","b"],"brokers":[{"agent":"A"}]}`,
		`{"id":"p2","zip":"2","address":{"city":"Waco"},"tags":[],"notes":null}`,
		`{"id":"p3","zip":"3","brokers":[],"empty":{},"late":{"x":[{"y":1}]}}`,
		`{"id":"p4","zip":"4","address":{"city":"Bryan","geo":{"lat":2,"lon":3}}}`,
	}, "\n")})
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.Fields(source.Properties)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "address.city", "address.geo.lat", "address.geo.lon", "brokers", "late.x", "notes", "tags", "zip"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Fields (-want +got):\n%s", diff)
	}
	if _, err := d.Fields(source.People); !errors.Is(err, source.ErrUnknownDataType) {
		t.Fatalf("Fields of a missing data type: %v", err)
	}
}

// TestFieldsGenerated checks Fields against every record of a generated
// dataset, flattened the slow way.
func TestFieldsGenerated(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(t.Context(), GenerateConfig{Dir: dir, People: 300, Properties: 300, Businesses: 300, Products: 300, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, dt := range source.DataTypes() {
		res, err := d.Search(t.Context(), dt, "", d.Len(dt))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for rec, err := range res.Records {
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(rec.Raw, &doc); err != nil {
				t.Fatal(err)
			}
			columnsOf(doc, "", seen)
		}
		delete(seen, "id")
		want := append([]string{"id"}, slices.Sorted(maps.Keys(seen))...)
		got, err := d.Fields(dt)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Fields (-want +got):\n%s", dt, diff)
		}
	}
}

// TestQueryFields checks the paths a query may name: "id" and the index's
// paths, arrays of objects reached into, sorted.
func TestQueryFields(t *testing.T) {
	dir := writeDataset(t, map[string]string{"properties.jsonl": strings.Join([]string{
		`{"id":"p1","zip":"1","address":{"city":"Austin"},"tags":["a"],"brokers":[{"agent":"A"}]}`,
		`{"id":"p2","zip":"2","price":5}`,
	}, "\n")})
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.QueryFields(source.Properties)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"address.city", "brokers.agent", "id", "price", "tags", "zip"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("QueryFields (-want +got):\n%s", diff)
	}
	for _, f := range []string{"address", "brokers", "brokers.agent", "id"} {
		if !source.KnowsField(got, f) {
			t.Errorf("KnowsField(%q) false", f)
		}
	}
	for _, f := range []string{"addr", "ZIP", "address.zip", "brokers.agen"} {
		if source.KnowsField(got, f) {
			t.Errorf("KnowsField(%q) true", f)
		}
	}
	if _, err := d.QueryFields(source.People); !errors.Is(err, source.ErrUnknownDataType) {
		t.Fatalf("QueryFields of a missing data type: %v", err)
	}
}

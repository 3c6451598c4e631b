package source

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordValues(t *testing.T) {
	rec := Record{ID: "p1", Raw: json.RawMessage(`{"id":"p1","price":425000.50,"tags":["a","b"],` +
		`"brokers":[{"agent":"A","phones":["1","2"]},{"agent":"B","phones":[]},{"x":1}],"geo":{"lat":30.2},"none":null}`)}
	for _, tt := range []struct {
		path string
		want []any
	}{
		{"id", []any{"p1"}},
		{"price", []any{json.Number("425000.50")}},
		{"tags", []any{"a", "b"}},
		{"brokers.agent", []any{"A", "B"}},
		{"brokers.phones", []any{"1", "2"}},
		{"geo.lat", []any{json.Number("30.2")}},
		{"geo", []any{map[string]any{"lat": json.Number("30.2")}}},
		{"none", []any{nil}},
		{"missing", nil},
		{"geo.lat.x", nil},
	} {
		if diff := cmp.Diff(tt.want, rec.Values(tt.path)); diff != "" {
			t.Errorf("Values(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
	var v struct{ Price float64 }
	if err := rec.Decode(&v); err != nil || v.Price != 425000.5 {
		t.Errorf("Decode: %v %v", v, err)
	}
	if err := (Record{ID: "x", Raw: json.RawMessage(`{`)}).Decode(&v); err == nil {
		t.Error("Decode of bad JSON succeeded")
	}
}

func TestItemValues(t *testing.T) {
	it := Item{"name": "Acme", "address": map[string]any{"city": "Austin"}, "phones": []any{"1", "2"}}
	if diff := cmp.Diff([]any{"Austin"}, it.Values("address.city")); diff != "" {
		t.Errorf("address.city: %s", diff)
	}
	if diff := cmp.Diff([]any{"1", "2"}, it.Values("phones")); diff != "" {
		t.Errorf("phones: %s", diff)
	}
	if got := it.Values("tracking_id"); got != nil {
		t.Errorf("tracking_id: %v", got)
	}
}

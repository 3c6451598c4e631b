package api

import (
	"errors"
	"net/http"
	"testing"

	"github.com/creditrun/creditrun/jobs"
)

// FuzzDecodeSpec decodes any body as each kind of job and normalizes what
// decodes: never a panic, and every refusal is a 400 that names a field.
// The corpus is in testdata/fuzz/FuzzDecodeSpec.
func FuzzDecodeSpec(f *testing.F) {
	for _, b := range []string{
		`{"data_type":"people","query":"city:Austin AND (a:b OR c:\"d e\")","num_records":10}`,
		`{"data_type":"businesses","match_on":["name","postalCode"],"items":[{"tracking_id":"t1","name":"x","postalCode":"78744"}],"format":"csv"}`,
		`{"data_type":"people","num_records":-1,"format":"xml","on_insufficient":"maybe"}`,
		`{"match_on":[1],"items":[[]]}`, `{"num_records":18446744073709551616}`, `{`, `"x"`, `{"query":"\ud800"}`,
	} {
		for k := range 3 {
			f.Add(uint8(k), []byte(b))
		}
	}
	kinds := []jobs.Kind{jobs.Search, jobs.Download, jobs.Enrichment}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		spec, err := decodeSpec(kinds[int(k)%len(kinds)], body)
		if err == nil {
			err = spec.Normalize(jobs.DefaultLimits, func(string) bool { return true })
		}
		if err == nil {
			return
		}
		fe, ok := errors.AsType[*jobs.FieldError](err)
		if !ok || fe.Field == "" {
			t.Fatalf("%q: %v is not a *jobs.FieldError with a field", body, err)
		}
		if ae := toAPIError(err); ae.Status != http.StatusBadRequest || ae.Details["field"] != fe.Field {
			t.Fatalf("%q: %v maps to %d %v", body, err, ae.Status, ae.Details)
		}
	})
}

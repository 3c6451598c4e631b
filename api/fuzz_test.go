package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fuzzPaths are the POST endpoints, picked by the fuzzer's first argument.
var fuzzPaths = []struct {
	path  string
	admin bool
}{
	{"/v1/searches", false},
	{"/v1/downloads", false},
	{"/v1/enrichments", false},
	{"/v1/accounts", true},
	{"/v1/keys", true},
	{"/v1/accounts/acme/keys", true},
	{"/v1/accounts/acme/credits", true},
	{"/v1/accounts/acme/grants", true},
}

// FuzzPost sends any body to every POST endpoint through the whole API on a
// real redis-server: never a panic, never a 5xx, and every error has the
// shape of API.md. The corpus is in testdata/fuzz/FuzzPost.
func FuzzPost(f *testing.F) {
	for i := range fuzzPaths {
		for _, b := range []string{
			`{"data_type":"people","query":"city:Austin","num_records":10}`,
			`{"data_type":"people","num_records":5,"format":"jsonl","on_insufficient":"partial"}`,
			`{"data_type":"people","match_on":["name"],"items":[{"tracking_id":"t1","name":"x"}]}`,
			`{"id":"acme2","name":"Acme","plans":["people-1k-99"]}`,
			`{"role":"finance"}`,
			`{"pool":"people","amount":-5,"reason":"r"}`,
			`{"pool":"people","amount":5,"expires_at":"2031-01-01T00:00:00Z","priority":-3,"reason":"r"}`,
			`{"num_records":1e999}`, `[`, `{"items":[null,1,{}]}`, ``, `null`, `{"a":1}{}`,
		} {
			f.Add(uint8(i), []byte(b))
		}
	}
	e := newEnv(f)
	if _, err := e.svc.CreateAccount(ctx, "acme", "Acme", []string{"people-1k-99"}); err != nil {
		f.Fatal(err)
	}
	user, err := e.api.CreateKey(ctx, "user", "acme")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		p := fuzzPaths[int(which)%len(fuzzPaths)]
		r := httptest.NewRequest(http.MethodPost, p.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		key := user
		if p.admin {
			key = e.admin
		}
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", p.path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var out map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 3 || out["error"] == nil || out["message"] == nil || out["details"] == nil {
				t.Fatalf("POST %s %q: error body %s", p.path, body, w.Body)
			}
		}
	})
}

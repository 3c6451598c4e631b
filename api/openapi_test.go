package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes walks the router's routes and the document's paths:
// each (method, path) is in the other.
func TestOpenAPICoversRoutes(t *testing.T) {
	b, err := openAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	s := &Server{}
	if s.metrics, err = newMetrics(nil); err != nil {
		t.Fatal(err)
	}
	wildcard := regexp.MustCompile(`\{(\w+)\.\.\.\}`)
	var routes, documented []string
	for _, rt := range s.routes() {
		routes = append(routes, rt.method+" "+wildcard.ReplaceAllString(rt.pattern, "{$1}"))
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options"}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			if !slices.Contains(methods, m) {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+path)
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s has no responses", m, path)
			}
		}
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.yaml documents %s, which no route serves", d)
		}
	}
	if len(routes) != len(documented) {
		t.Errorf("%d routes, %d documented operations", len(routes), len(documented))
	}
	// Every $ref points at something.
	var all map[string]any
	_ = json.Unmarshal(b, &all)
	for _, ref := range regexp.MustCompile(`"\$ref":"#/([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		var cur any = all
		for _, part := range strings.Split(ref[1], "/") {
			m, ok := cur.(map[string]any)
			if !ok || m[part] == nil {
				t.Fatalf("$ref #/%s points at nothing", ref[1])
			}
			cur = m[part]
		}
	}
}

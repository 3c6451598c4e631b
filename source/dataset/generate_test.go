package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
)

func generate(t *testing.T, cfg GenerateConfig) []GeneratedFile {
	t.Helper()
	files, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := GenerateConfig{People: 300, Properties: 200, Businesses: 100, Products: 50, Seed: 7}
	cfg.Dir = a
	generate(t, cfg)
	cfg.Dir = b
	generate(t, cfg)
	cfg.Dir, cfg.Seed = c, 8
	generate(t, cfg)
	for _, name := range source.DataTypes() {
		x, _ := os.ReadFile(filepath.Join(a, name+".jsonl"))
		y, _ := os.ReadFile(filepath.Join(b, name+".jsonl"))
		z, _ := os.ReadFile(filepath.Join(c, name+".jsonl"))
		if !bytes.Equal(x, y) {
			t.Errorf("%s: two runs with the same seed differ", name)
		}
		if bytes.Equal(x, z) {
			t.Errorf("%s: seeds 7 and 8 give the same file", name)
		}
	}
	// Record i depends on the seed and i only: a bigger dataset starts with
	// the smaller one.
	d := t.TempDir()
	generate(t, GenerateConfig{Dir: d, People: 301, Seed: 7})
	small, _ := os.ReadFile(filepath.Join(a, "people.jsonl"))
	big, _ := os.ReadFile(filepath.Join(d, "people.jsonl"))
	if !bytes.HasPrefix(big, small) {
		t.Errorf("301 people do not start with the 300")
	}
}

func TestGenerateCountsAndParses(t *testing.T) {
	dir := t.TempDir()
	counts := map[string]int{"people": 500, "properties": 300, "businesses": 200, "products": 0}
	files := generate(t, GenerateConfig{Dir: dir, People: 500, Properties: 300, Businesses: 200, Seed: 1})
	for _, f := range files {
		st, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Records != counts[f.DataType] || st.Size() != f.Bytes {
			t.Errorf("%s: %d records, %d bytes reported, %d on disk", f.DataType, f.Records, f.Bytes, st.Size())
		}
	}
	// The fields each data type promises, with their JSON types.
	want := map[string]map[string]string{
		"people": {"id": "string", "name": "string", "email": "string", "phone": "string", "address": "string",
			"city": "string", "province": "string", "postalCode": "string", "birthDate": "string"},
		"properties": {"id": "string", "address": "string", "city": "string", "province": "string",
			"postalCode": "string", "price": "number", "listedAt": "string", "brokers": "array", "propertyType": "string"},
		"businesses": {"id": "string", "name": "string", "categories": "array", "address": "string", "city": "string",
			"province": "string", "postalCode": "string", "phones": "array", "websites": "array"},
		"products": {"id": "string", "name": "string", "brand": "string", "categories": "array", "prices": "array"},
	}
	for name, fields := range want {
		f, err := os.Open(filepath.Join(dir, name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		lines := 0
		for sc.Scan() {
			lines++
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s line %d: %v: %s", name, lines, err, sc.Bytes())
			}
			for field, typ := range fields {
				if got := jsonType(rec[field]); got != typ {
					t.Fatalf("%s line %d: %s is %s, want %s: %s", name, lines, field, got, typ, sc.Bytes())
				}
			}
			if name == "properties" {
				for _, b := range rec["brokers"].([]any) {
					broker := b.(map[string]any)
					if jsonType(broker["agent"]) != "string" || jsonType(broker["company"]) != "string" || jsonType(broker["phones"]) != "array" {
						t.Fatalf("%s line %d: broker %v", name, lines, broker)
					}
				}
			}
		}
		f.Close()
		if lines != counts[name] {
			t.Errorf("%s: %d lines, want %d", name, lines, counts[name])
		}
	}
	// And the dataset loads back whole.
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for name, n := range counts {
		if d.Len(name) != n {
			t.Errorf("%s: %d records loaded, want %d", name, d.Len(name), n)
		}
	}
	found, ids := searchIDs(t, d, "people", "*", 2)
	if found != 500 || !cmp.Equal(ids, []string{"per_00000001", "per_00000002"}) {
		t.Errorf("people: found %d, first ids %v", found, ids)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case bool:
		return "bool"
	case nil:
		return "missing"
	}
	return "?"
}

func TestGenerateRejectsNegativeCounts(t *testing.T) {
	if _, err := Generate(t.Context(), GenerateConfig{Dir: t.TempDir(), People: -1}); err == nil {
		t.Error("Generate accepted -1 people")
	}
}

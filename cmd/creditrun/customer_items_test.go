package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadItems reads enrichment items from CSV and JSONL files, and
// refuses files that are neither.
func TestReadItems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, data, want string }{
		{"a.csv", "\ufefftracking_id, name ,city\nt1,Ann,\nt2,\"Bo, Jr\",Lyon\n", `[{"name":"Ann","tracking_id":"t1"},{"city":"Lyon","name":"Bo, Jr","tracking_id":"t2"}]`},
		{"a.jsonl", "{\"tracking_id\":\"t1\",\"id\":\"per_1\",\"n\":7}\n\n{\"tracking_id\":\"t2\"}\n", `[{"id":"per_1","n":7,"tracking_id":"t1"},{"tracking_id":"t2"}]`},
		{"items.txt", "{\"tracking_id\":\"t1\"}\n", `[{"tracking_id":"t1"}]`},
	} {
		items, err := readItems(write(tc.name, tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := json.Marshal(items)
		if string(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, data, want string }{
		{"b.csv", "tracking_id,id\nt1\n", "wrong number of fields"},
		{"b.jsonl", "{\"tracking_id\":\"t1\"}\n[1]\n", "line 2 is not a JSON object"},
		{"c.csv", "tracking_id,id\n", "no items"},
		{"d.csv", "tracking_id,,id\nt1,x,y\n", "names no field in column 2"},
	} {
		if _, err := readItems(write(tc.name, tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := readItems(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing file reads")
	}
}

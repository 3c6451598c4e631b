package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeDataset(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpenBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		line    int
		reason  error
		msg     string
	}{
		{"bad JSON", `{"id":"a"}` + "\n" + `{"id":"b",}` + "\n", 2, ErrBadJSON,
			`people.jsonl:2: bad JSON: at byte 10 of the record: invalid character '}' looking for beginning of object key string`},
		{"truncated JSON", `{"id":"a"}` + "\n\n" + `{"id":"b","x":[1,2`, 3, ErrBadJSON,
			`people.jsonl:3: bad JSON: at byte 18 of the record: unexpected end of JSON after array element`},
		{"not an object", `["id","a"]`, 1, ErrBadJSON, `people.jsonl:1: bad JSON: the line is not a JSON object`},
		{"missing id", `{"id":"a"}` + "\n" + `{"name":"b","x":{"id":"c"}}` + "\n", 2, ErrMissingID, `people.jsonl:2: the record has no "id"`},
		{"numeric id", `{"id":7}`, 1, ErrBadID, `people.jsonl:1: the record's "id" is not a non-empty string`},
		{"empty id", `{"id":""}`, 1, ErrBadID, `people.jsonl:1: the record's "id" is not a non-empty string`},
		{"array id", `{"id":["a"]}`, 1, ErrBadID, `people.jsonl:1: the record's "id" is not a non-empty string`},
		{"duplicate id", `{"id":"b"}` + "\n" + `{"id":"a"}` + "\n\n" + `{"id":"c"}` + "\n" + `{"id":"a","n":2}` + "\n", 5, ErrDuplicateID,
			`people.jsonl:5: duplicate id "a", first on line 2`},
		{"duplicate id in order", `{"id":"a"}` + "\n" + `{"id":"a"}`, 2, ErrDuplicateID, `people.jsonl:2: duplicate id "a", first on line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t, map[string]string{"people.jsonl": tt.content, "products.jsonl": `{"id":"p"}`})
			d, err := Open(t.Context(), dir)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			le, ok := errors.AsType[*LineError](err)
			if !ok {
				t.Fatalf("Open: %v, want a *LineError", err)
			}
			if le.Line != tt.line || le.File != filepath.Join(dir, "people.jsonl") || !errors.Is(err, tt.reason) {
				t.Errorf("Open: %#v, want line %d of people.jsonl, reason %v", le, tt.line, tt.reason)
			}
			if got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)); got != tt.msg {
				t.Errorf("Open: %s\nwant %s", got, tt.msg)
			}
		})
	}
}

func TestOpenTolerates(t *testing.T) {
	// Blank lines, CRLF line ends, surrounding spaces and a last line without
	// a newline are fine; a data type without its file is absent.
	dir := writeDataset(t, map[string]string{
		"people.jsonl": "\n" + `  {"id":"a","name":"Ann"}  ` + "\r\n\r\n" + `{"id":"b","name":"Bo"}`,
	})
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if diff := cmp.Diff([]string{"people"}, d.DataTypes()); diff != "" {
		t.Errorf("DataTypes (-want +got):\n%s", diff)
	}
	res, err := d.Search(t.Context(), "people", "*", 10)
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for rec, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, string(rec.Raw))
	}
	if diff := cmp.Diff([]string{`{"id":"a","name":"Ann"}`, `{"id":"b","name":"Bo"}`}, raws); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestOpenNoFiles(t *testing.T) {
	if _, err := Open(t.Context(), t.TempDir()); !errors.Is(err, ErrNoFiles) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrNoFiles) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestOpenLongLine(t *testing.T) {
	// A record longer than the reader's first buffer.
	long := `{"id":"x","text":"` + strings.Repeat("word ", 1<<20) + `"}`
	dir := writeDataset(t, map[string]string{"people.jsonl": `{"id":"a"}` + "\n" + long + "\n" + `{"id":"b","text":"word"}`})
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	found, ids := searchIDs(t, d, "people", "text:word", 10)
	if found != 2 || !cmp.Equal(ids, []string{"x", "b"}) {
		t.Errorf("found %d %v", found, ids)
	}
}

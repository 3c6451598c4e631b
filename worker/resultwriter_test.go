package worker_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/worker"
)

var formats = []jobs.Format{jobs.CSV, jobs.JSON, jobs.JSONL}

// openDataset generates and opens a small dataset.
func openDataset(t *testing.T, n int) *dataset.Dataset {
	t.Helper()
	dir := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: n, Properties: n, Businesses: n, Products: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := dataset.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func allRecords(t *testing.T, d *dataset.Dataset, dt string) []source.Record {
	t.Helper()
	res, err := d.Search(t.Context(), dt, "", d.Len(dt))
	if err != nil {
		t.Fatal(err)
	}
	var out []source.Record
	for rec, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// parseRows reads a result file back as one map per row: a CSV's cells by
// header, or the JSON objects.
func parseRows(t *testing.T, f jobs.Format, b []byte) (header []string, rows []map[string]any) {
	t.Helper()
	switch f {
	case jobs.CSV:
		all, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("parse csv: %v\n%s", err, b)
		}
		if len(all) == 0 {
			t.Fatal("a CSV without a header")
		}
		for _, r := range all[1:] {
			row := map[string]any{}
			for i, c := range r {
				row[all[0][i]] = c
			}
			rows = append(rows, row)
		}
		return all[0], rows
	case jobs.JSON:
		if err := json.Unmarshal(b, &rows); err != nil {
			t.Fatalf("parse json: %v\n%s", err, b)
		}
		if rows == nil {
			t.Fatalf("a JSON result is not an array: %s", b)
		}
	case jobs.JSONL:
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("parse jsonl line %q: %v", sc.Text(), err)
			}
			rows = append(rows, row)
		}
	}
	return nil, rows
}

func TestRecordWriter(t *testing.T) {
	d := openDataset(t, 200)
	recs := allRecords(t, d, source.Properties)
	fields, err := d.Fields(source.Properties)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range formats {
		for _, withFields := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s fields=%v", f, withFields), func(t *testing.T) {
				var cols []string
				if withFields {
					cols = fields
				}
				var buf bytes.Buffer
				w := worker.NewRecordWriter(&buf, f, cols)
				for _, r := range recs {
					if err := w.WriteRecord(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if w.Rows() != int64(len(recs)) {
					t.Fatalf("Rows() = %d, want %d", w.Rows(), len(recs))
				}
				header, rows := parseRows(t, f, buf.Bytes())
				if len(rows) != len(recs) {
					t.Fatalf("%d rows parsed back, want %d", len(rows), len(recs))
				}
				if f == jobs.CSV && !cmp.Equal(header, fields) {
					t.Fatalf("header %q, want %q", header, fields)
				}
				for i, rec := range recs {
					var want map[string]any
					if err := json.Unmarshal(rec.Raw, &want); err != nil {
						t.Fatal(err)
					}
					got := rows[i]
					if f == jobs.CSV {
						got = unflattenCSV(t, got, want)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("row %d (-want +got):\n%s", i, diff)
					}
				}
			})
		}
	}
}

// unflattenCSV turns a CSV row back into the record's shape, using want to
// know each cell's JSON type.
func unflattenCSV(t *testing.T, row, want map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range want {
		switch v := v.(type) {
		case string:
			out[k] = row[k]
		case nil:
			if row[k] != "" {
				t.Fatalf("%s: null written as %q", k, row[k])
			}
			out[k] = nil
		case map[string]any:
			sub := map[string]any{}
			for sk := range v {
				sub[sk] = row[k+"."+sk]
			}
			out[k] = sub
		default: // numbers, booleans and arrays are JSON in their cell
			var x any
			if err := json.Unmarshal([]byte(row[k].(string)), &x); err != nil {
				t.Fatalf("%s: cell %q is not JSON: %v", k, row[k], err)
			}
			out[k] = x
		}
	}
	return out
}

func TestRecordWriterAwkwardValues(t *testing.T) {
	recs := []source.Record{
		{ID: "a", Raw: json.RawMessage(`{"id":"a","name":"O'Neil, \"Bo\"\nJr <&>","n":null,"geo":{"lat":1.50,"deep":{"x":true}},"tags":["x", "y"],"empty":{}}`)},
		{ID: "b", Raw: json.RawMessage(`{"id":"b","extra":"not a column of the first record"}`)},
	}
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w := worker.NewRecordWriter(&buf, f, nil)
			for _, r := range recs {
				if err := w.WriteRecord(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			header, rows := parseRows(t, f, buf.Bytes())
			if len(rows) != 2 {
				t.Fatalf("%d rows", len(rows))
			}
			if f != jobs.CSV {
				if rows[0]["name"] != "O'Neil, \"Bo\"\nJr <&>" || rows[1]["extra"] == nil {
					t.Fatalf("rows %v", rows)
				}
				if !strings.Contains(buf.String(), "<&>") {
					t.Fatal("HTML characters were escaped in the record's JSON")
				}
				return
			}
			if diff := cmp.Diff([]string{"id", "geo.deep.x", "geo.lat", "n", "name", "tags"}, header); diff != "" {
				t.Fatalf("header (-want +got):\n%s", diff)
			}
			want := map[string]any{"id": "a", "name": "O'Neil, \"Bo\"\nJr <&>", "n": "", "geo.lat": "1.50", "geo.deep.x": "true", "tags": `["x", "y"]`}
			if diff := cmp.Diff(want, rows[0]); diff != "" {
				t.Fatalf("row 0 (-want +got):\n%s", diff)
			}
			if rows[1]["id"] != "b" || rows[1]["name"] != "" {
				t.Fatalf("row 1: %v", rows[1])
			}
		})
	}
}

func TestEmptyResults(t *testing.T) {
	want := map[jobs.Format]string{jobs.CSV: "id\n", jobs.JSON: "[]\n", jobs.JSONL: ""}
	for _, f := range formats {
		var buf bytes.Buffer
		w := worker.NewRecordWriter(&buf, f, nil)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want[f] {
			t.Errorf("%s: empty result %q, want %q", f, buf.String(), want[f])
		}
		_, rows := parseRows(t, f, buf.Bytes())
		if len(rows) != 0 {
			t.Errorf("%s: %d rows", f, len(rows))
		}
	}
	var buf bytes.Buffer
	w := worker.NewMatchWriter(&buf, jobs.CSV, []string{"id", "name"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "tracking_id,matched,id,name\n" {
		t.Errorf("an empty enrichment CSV: %q", buf.String())
	}
}

func TestMatchWriter(t *testing.T) {
	d := openDataset(t, 50)
	recs := allRecords(t, d, source.Businesses)
	fields, err := d.Fields(source.Businesses)
	if err != nil {
		t.Fatal(err)
	}
	// Items 0 and 1 match nothing (so a CSV without columns must wait for
	// its header), then matches and misses alternate; item 4 has no
	// tracking id.
	var items []source.Item
	for i := range 10 {
		it := source.Item{"tracking_id": fmt.Sprintf("t%d", i), "id": "nope"}
		if i >= 2 && i%2 == 0 {
			it["id"] = recs[i].ID
		}
		items = append(items, it)
	}
	delete(items[4], "tracking_id")
	for _, f := range formats {
		for _, withFields := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s fields=%v", f, withFields), func(t *testing.T) {
				var cols []string
				if withFields {
					cols = fields
				}
				stream, err := d.Match(t.Context(), source.Businesses, []string{"id"}, items)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				w := worker.NewMatchWriter(&buf, f, cols)
				for m, err := range stream {
					if err != nil {
						t.Fatal(err)
					}
					if err := w.WriteMatch(m); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				header, rows := parseRows(t, f, buf.Bytes())
				if len(rows) != len(items) {
					t.Fatalf("%d rows, want %d:\n%s", len(rows), len(items), buf.Bytes())
				}
				if f == jobs.CSV {
					if diff := cmp.Diff(append([]string{"tracking_id", "matched"}, fields...), header); diff != "" {
						t.Fatalf("header (-want +got):\n%s", diff)
					}
				}
				for i, row := range rows {
					matched := i >= 2 && i%2 == 0
					var wantTID any = fmt.Sprintf("t%d", i)
					if i == 4 {
						wantTID = nil
						if f == jobs.CSV {
							wantTID = ""
						}
					}
					if row["tracking_id"] != wantTID {
						t.Fatalf("row %d: tracking_id %v, want %v", i, row["tracking_id"], wantTID)
					}
					switch f {
					case jobs.CSV:
						wantID := ""
						if matched {
							wantID = recs[i].ID
						}
						if row["matched"] != fmt.Sprint(matched) || row["id"] != wantID {
							t.Fatalf("row %d: %v", i, row)
						}
					default:
						if row["matched"] != matched {
							t.Fatalf("row %d: matched %v", i, row["matched"])
						}
						rec, _ := row["record"].(map[string]any)
						if matched && (rec == nil || rec["id"] != recs[i].ID) {
							t.Fatalf("row %d: record %v, want %s", i, row["record"], recs[i].ID)
						}
						if !matched && row["record"] != nil {
							t.Fatalf("row %d: record %v, want null", i, row["record"])
						}
						if _, ok := row["record"]; !ok {
							t.Fatalf("row %d has no record field", i)
						}
					}
				}
			})
		}
	}
}

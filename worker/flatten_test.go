package worker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/worker"
)

// edgeRecords are hand-made records with what generated ones lack.
var edgeRecords = []string{
	`{"id":"e1","name":"plain","n":1,"f":-0.5e-3,"big":1E+400,"neg":-12,"t":true,"fa":false,"z":null}`,
	`{"id":"e2","geo":{"lat":1.50,"lng":-3e2,"deep":{"x":true,"y":{"z":"deepest"}}},"empty":{},"none":[],"nested":{"e":{}}}`,
	`{"id":"e3","brokers":[{"agent":"A","phones":["1","2"]},{"agent":"B"}],"m":[[1,[2]],3,{"a":[]}],"s":[ "a" , "b]" ,"\"]" ]}`,
	` { "id" : "e4" , "spaced" : { "a" : 1 , "b" : [ 1 , 2 ] } , "e" : [ ] , "o" : { } } `,
	`{"id":"e5","esc":"q\"b\\s\/ \b\f\n\r\t \u0000\u001f\u00e9\u4e2d\ud83d\ude00","uni":"héllo 中文 😀 \u2028\u2029"}`,
	`{"id":"e6","lone":"\ud800 x \udc00 \ud800\u0041 \ud800\ud800\udc00","bad":"` + "\xff\xfe a \xc3 \xed\xa0\x80" + `","csv":"a,b","quote":"say \"hi\"","nl":"line\nbreak","cr":"a\rb","lead":" spaced ","lt":"<&>"}`,
	`{"id":"e7","k\u0065y":"escaped key","\u00e9t\u00e9":"unicode key","a\"b":"quote in key","":"empty key","sp ace":1}`,
	`{"id":"e8","dup":1,"dup":2,"obj":{"x":1,"y":2},"obj":{"x":3},"sw":{"a":1},"sw":"now a string","ws":"a string","ws":{"b":2}}`,
	`{"id":"e9","d\u0075p":"first","dup":"second","o":{"k":1,"k":{"j":null},"k":{"i":[1]}}}`,
	`{"id":"e10"}`,
	`{"id":"e11","only":"fields the columns lack","num0":0,"frac":0.000,"exp":1e5,"Exp":2E-7,"int":12345678901234567890}`,
	`{"id":"e12","name":null,"geo":null,"tags":["x", "y"],"objs":[{},{"a":null}],"s":""}`,
	`{"id":"e13","":{"":0,"a":{"":1}},"x":{"":null}}`,
	`{"id":"e14","nbsp":"\u00a0x","ideo":"\u3000y","nel":"\u0085z","tab":"\tt","dot":"\\.","dotx":"\\.x","q":"\"","qq":"a\"\"b\"","comma":",","crlf":"\r\n"}`,
}

func edgeRecordsRaw() []source.Record {
	var recs []source.Record
	for i, r := range edgeRecords {
		recs = append(recs, source.Record{ID: fmt.Sprintf("e%d", i+1), Raw: json.RawMessage(r)})
	}
	return recs
}

// writeRecords writes recs with the writer and with the reference and
// returns both files.
func writeRecords(t *testing.T, f jobs.Format, cols []string, recs []source.Record) (got, want []byte) {
	t.Helper()
	var g, w bytes.Buffer
	gw, rw := worker.NewRecordWriter(&g, f, cols), newRefRecordWriter(&w, f, cols)
	for _, rec := range recs {
		gerr, rerr := gw.WriteRecord(rec), rw.WriteRecord(rec)
		if (gerr != nil) != (rerr != nil) {
			t.Fatalf("record %s: error %v, reference %v", rec.Raw, gerr, rerr)
		}
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	return g.Bytes(), w.Bytes()
}

// matchesOf pairs recs with items: every third item matches nothing, and
// the tracking ids are of every kind an item may hold.
func matchesOf(recs []source.Record) []source.Match {
	tids := []any{"t", "quote\"back\\slash", "ctl\x00\x1f\b\f\n\r\t", "<&> é 中 😀", "\u2028\u2029", "bad\xff\xc3(", 42, 1.5, true, nil, "", " padded "}
	var ms []source.Match
	for i, rec := range recs {
		it := source.Item{"id": rec.ID}
		if i%len(tids) != len(tids)-1 || i == 0 {
			it["tracking_id"] = tids[i%len(tids)]
		}
		m := source.Match{Index: i, Item: it}
		if i%3 != 0 {
			m.Matched, m.Record = true, rec
		}
		ms = append(ms, m)
	}
	return ms
}

func writeMatches(t *testing.T, f jobs.Format, cols []string, ms []source.Match) (got, want []byte) {
	t.Helper()
	var g, w bytes.Buffer
	gw, rw := worker.NewMatchWriter(&g, f, cols), newRefMatchWriter(&w, f, cols)
	for _, m := range ms {
		gerr, rerr := gw.WriteMatch(m), rw.WriteMatch(m)
		if (gerr != nil) != (rerr != nil) {
			t.Fatalf("match %v: error %v, reference %v", m, gerr, rerr)
		}
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	return g.Bytes(), w.Bytes()
}

// sameBytes fails the test at the first line where got and want differ.
func sameBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range min(len(gl), len(wl)) {
		if !bytes.Equal(gl[i], wl[i]) {
			t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("%d lines, reference %d", len(gl), len(wl))
}

// columnSets are the columns to try: the data type's, none (the first
// record's), and the data type's with some left out and some no record has.
func columnSets(fields []string) map[string][]string {
	var some []string
	for i, c := range fields {
		if i%3 != 1 {
			some = append(some, c)
		}
	}
	some = append(some, "nowhere", "geo.nowhere", "name.first")
	return map[string][]string{"fields": fields, "none": nil, "some": some}
}

// TestWriterMatchesReference holds the writers to the reference, byte for
// byte, on generated records of every data type and on edge cases, in every
// format, with and without columns.
func TestWriterMatchesReference(t *testing.T) {
	d := openDataset(t, 2500)
	edgeCols := []string{"id", "bad", "big", "brokers", "csv", "dup", "e", "esc", "exp", "f", "geo", "geo.deep.x", "geo.deep.y.z", "geo.lat", "k\"ey", "key",
		"lone", "m", "n", "name", "nested.e", "none", "num0", "o.k", "o.k.i", "o.k.j", "obj.x", "obj.y", "objs", "spaced.a", "spaced.b", "sw", "sw.a",
		"tags", "uni", "ws", "ws.b", "a\"b", "", "été", "missing"}
	sets := map[string][]source.Record{"edge": edgeRecordsRaw()}
	colSets := map[string]map[string][]string{"edge": {"fields": edgeCols, "none": nil}}
	for _, dt := range d.DataTypes() {
		sets[dt] = allRecords(t, d, dt)
		fields, err := d.Fields(dt)
		if err != nil {
			t.Fatal(err)
		}
		colSets[dt] = columnSets(fields)
	}
	// Edge cases first, then a generated record: the first record's columns
	// are the edge cases'.
	sets["edge then people"] = append(edgeRecordsRaw(), sets[source.People][:50]...)
	colSets["edge then people"] = map[string][]string{"none": nil}
	for name, recs := range sets {
		for cname, cols := range colSets[name] {
			for _, f := range formats {
				t.Run(fmt.Sprintf("%s/%s/%s", name, f, cname), func(t *testing.T) {
					t.Parallel()
					got, want := writeRecords(t, f, cols, recs)
					sameBytes(t, got, want)
					got, want = writeMatches(t, f, cols, matchesOf(recs))
					sameBytes(t, got, want)
				})
			}
		}
	}
}

// TestFlattenEachEdgeRecord writes each edge record alone, so that each is
// the first record, whose fields are the columns.
func TestFlattenEachEdgeRecord(t *testing.T) {
	for _, rec := range edgeRecordsRaw() {
		for _, f := range formats {
			got, want := writeRecords(t, f, nil, []source.Record{rec})
			sameBytes(t, got, want)
			got, want = writeMatches(t, f, nil, []source.Match{{Item: source.Item{"tracking_id": rec.ID}, Matched: true, Record: rec}})
			sameBytes(t, got, want)
		}
	}
}

// TestFlattenBadRecords checks that what is not a JSON object is an error,
// not a panic or a row.
func TestFlattenBadRecords(t *testing.T) {
	for _, raw := range []string{``, ` `, `[]`, `"s"`, `1`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":tru}`, `{"a":01x}`,
		`{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"open}`, `{"a":[1,2}`, `{"a":{"b":1}`, `{"a":1} x`, `nul`} {
		got, want := writeRecords(t, jobs.CSV, []string{"id", "a"}, []source.Record{{Raw: json.RawMessage(raw)}})
		if !strings.HasPrefix(string(want), "id,a\n") || !bytes.Equal(got, want) {
			t.Errorf("%q: got %q, reference %q", raw, got, want)
		}
	}
}

// FuzzFlatten holds the CSV of any JSON object to the reference's. Objects
// with a dot in a key are skipped: two paths may then be the same
// ({"a.b":1,"a":{"b":2}}), and the reference picks one at random.
func FuzzFlatten(f *testing.F) {
	for _, r := range edgeRecords {
		f.Add([]byte(r))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Whatever the bytes, an error or a row, never a panic.
		_ = worker.NewRecordWriter(io.Discard, jobs.CSV, nil).WriteRecord(source.Record{Raw: raw})
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil || v == nil || dottedKey(v) {
			return
		}
		rec := source.Record{ID: "x", Raw: raw}
		var cols []string
		for _, f := range formats {
			got, want := writeRecords(t, f, nil, []source.Record{rec, rec})
			sameBytes(t, got, want)
			if f == jobs.CSV {
				cols = strings.Split(strings.SplitN(string(got), "\n", 2)[0], ",")
			}
		}
		// The columns with some that the record lacks.
		got, want := writeRecords(t, jobs.CSV, append(slices.Clone(cols), "zz", "id.zz"), []source.Record{rec})
		sameBytes(t, got, want)
	})
}

func dottedKey(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.Contains(k, ".") || dottedKey(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if dottedKey(x) {
				return true
			}
		}
	}
	return false
}

// FuzzTrackingID holds an enrichment's JSON rows, whose tracking id the
// writer quotes itself, to the reference's.
func FuzzTrackingID(f *testing.F) {
	f.Add("t1")
	f.Add("<&> \u2028 \x00 \xff \"\\")
	f.Fuzz(func(t *testing.T, tid string) {
		m := source.Match{Item: source.Item{"tracking_id": tid}}
		for _, f := range formats {
			got, want := writeMatches(t, f, []string{"id"}, []source.Match{m})
			sameBytes(t, got, want)
		}
	})
}

// fileWriter writes the rows of one result file.
type fileWriter interface {
	WriteRecord(source.Record) error
	Close() error
}

// BenchmarkWriteCSV writes 100,000 generated people as a CSV with the
// dataset's columns, as a download does, on one goroutine (sequential) and
// through the parallel encoder with GOMAXPROCS encoders (parallel);
// ns/record is the figure to watch.
func BenchmarkWriteCSV(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	if _, err := dataset.Generate(b.Context(), dataset.GenerateConfig{Dir: dir, People: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	d, err := dataset.Open(b.Context(), dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cols, err := d.Fields(source.People)
	if err != nil {
		b.Fatal(err)
	}
	res, err := d.Search(b.Context(), source.People, "", n)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]source.Record, 0, n)
	var size int64
	for rec, err := range res.Records {
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
		size += int64(len(rec.Raw))
	}
	writers := map[string]func(io.Writer) fileWriter{
		"sequential": func(w io.Writer) fileWriter { return worker.NewRecordWriter(w, jobs.CSV, cols) },
		"parallel": func(w io.Writer) fileWriter {
			return worker.NewParallelWriter(w, jobs.CSV, cols, runtime.GOMAXPROCS(0), worker.ChunkRecords)
		},
	}
	for _, name := range []string{"sequential", "parallel"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				w := writers[name](io.Discard)
				for _, rec := range recs {
					if err := w.WriteRecord(rec); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

package worker_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// recordPool returns n records: the edge records, then generated people,
// then the same again, as often as it takes.
func recordPool(t *testing.T, people []source.Record, n int) []source.Record {
	t.Helper()
	all := append(edgeRecordsRaw(), people...)
	out := make([]source.Record, 0, n)
	for len(out) < n {
		out = append(out, all[:min(len(all), n-len(out))]...)
	}
	return out
}

// writeBoth writes recs with one ResultWriter and with a parallelWriter of
// workers encoders and chunks of size records, and returns both files and
// the rows each counted.
func writeBoth(t *testing.T, f jobs.Format, cols []string, recs []source.Record, workers, size int) (seq, par []byte, seqRows, parRows int64) {
	t.Helper()
	var s, p bytes.Buffer
	sw := worker.NewRecordWriter(&s, f, cols)
	pw := worker.NewParallelWriter(&p, f, cols, workers, size)
	for _, rec := range recs {
		if err := sw.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
		if err := pw.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Bytes(), p.Bytes(), sw.Rows(), pw.Rows()
}

// TestParallelWriterMatchesSequential holds the parallel encoder to the
// sequential one, byte for byte, in every format, with and without given
// columns, for record counts around the chunk size: small chunks for the
// boundaries in many places, and the real chunk size.
func TestParallelWriterMatchesSequential(t *testing.T) {
	d := openDataset(t, 2500)
	people := allRecords(t, d, source.People)
	fields, err := d.Fields(source.People)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		workers, size int
		counts        []int
	}{
		{"chunks of 7", 3, 7, []int{0, 1, 6, 7, 8, 13, 14, 15, 100, 1000}},
		{"one encoder", 1, 5, []int{0, 1, 4, 5, 6, 501}},
		{"real chunks", 2, worker.ChunkRecords, []int{0, 1, worker.ChunkRecords - 1, worker.ChunkRecords, worker.ChunkRecords + 1, 3*worker.ChunkRecords + 17}},
	}
	for _, c := range cases {
		for _, n := range c.counts {
			recs := recordPool(t, people, n)
			for cname, cols := range map[string][]string{"fields": fields, "none": nil} {
				for _, f := range formats {
					t.Run(fmt.Sprintf("%s/%d/%s/%s", c.name, n, f, cname), func(t *testing.T) {
						t.Parallel()
						seq, par, seqRows, parRows := writeBoth(t, f, cols, recs, c.workers, c.size)
						sameBytes(t, par, seq)
						if parRows != seqRows || parRows != int64(n) {
							t.Fatalf("rows: parallel %d, sequential %d, want %d", parRows, seqRows, n)
						}
					})
				}
			}
		}
	}
}

// TestParallelWriterBadRecord fails a CSV at a record that is not JSON, as
// the sequential writer does, wherever it lies.
func TestParallelWriterBadRecord(t *testing.T) {
	bad := source.Record{ID: "bad", Raw: json.RawMessage(`{"id":"bad",`)}
	for _, at := range []int{0, 3, 40} {
		recs := recordPool(t, nil, 60)
		recs[at] = bad
		w := worker.NewParallelWriter(io.Discard, jobs.CSV, nil, 2, 4)
		var err error
		for _, rec := range recs {
			if err = w.WriteRecord(rec); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Close()
		} else {
			w.Abort()
		}
		if err == nil || !strings.Contains(err.Error(), "invalid JSON") {
			t.Fatalf("bad record at %d: %v, want the flattener's error", at, err)
		}
	}
}

// TestParallelWriterStopsMidway stops a parallel file half-way, as a
// canceled run does: the upload reading the pipe fails (a canceled Put),
// the writer sees it, the run makes the pipe fail and aborts. Every
// goroutine the writer started has returned then (synctest fails the test
// on one left blocked), and the upload got the run's error, not an end of
// file.
func TestParallelWriterStopsMidway(t *testing.T) {
	errCanceled := errors.New("put canceled")
	for name, stopAt := range map[string]int{"in the first chunk": 2, "after chunks": 300} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pr, pw := io.Pipe()
				put := make(chan error, 1)
				go func() { // a Put that reads stopAt rows' worth, then is canceled
					buf := make([]byte, 64)
					read := 0
					for read < stopAt*64 {
						n, err := pr.Read(buf)
						if err != nil {
							put <- err
							return
						}
						read += n
					}
					pr.CloseWithError(errCanceled)
					put <- errCanceled
				}()
				w := worker.NewParallelWriter(pw, jobs.CSV, nil, 3, 8)
				recs := recordPool(t, nil, 100_000)
				var err error
				for _, rec := range recs {
					if err = w.WriteRecord(rec); err != nil {
						break
					}
				}
				if !errors.Is(err, errCanceled) {
					t.Fatalf("WriteRecord = %v, want the upload's error", err)
				}
				pw.CloseWithError(err)
				if got := <-put; !errors.Is(got, errCanceled) {
					t.Fatalf("the upload ended with %v", got)
				}
				w.Abort()
			})
		})
	}
	t.Run("the run stops", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pr, pw := io.Pipe()
			put := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, pr); put <- err }()
			w := worker.NewParallelWriter(pw, jobs.JSON, nil, 3, 8)
			for _, rec := range recordPool(t, nil, 1000) {
				if err := w.WriteRecord(rec); err != nil {
					t.Fatal(err)
				}
			}
			errStop := errors.New("the search failed")
			pw.CloseWithError(errStop)
			w.Abort()
			if got := <-put; !errors.Is(got, errStop) {
				t.Fatalf("the upload read %v, want the run's error", got)
			}
		})
	})
}

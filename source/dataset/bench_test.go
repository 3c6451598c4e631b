package dataset

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditrun/creditrun/source"
)

// The benchmarks run on a generated dataset of -bench.people people (one
// million by default), made once per run in a temporary directory. Plain
// `go test` never makes it: only the benchmarks ask for it.
var benchPeople = flag.Int("bench.people", 1_000_000, "people in the benchmarks' generated dataset")

var bench struct {
	genOnce, openOnce sync.Once
	dir               string
	d                 *Dataset
	err               error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.d != nil {
		bench.d.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchDir generates the benchmarks' dataset, once.
func benchDir(b *testing.B) string {
	b.Helper()
	bench.genOnce.Do(func() {
		if bench.dir, bench.err = os.MkdirTemp("", "creditrun-bench-*"); bench.err != nil {
			return
		}
		_, bench.err = Generate(context.Background(), GenerateConfig{Dir: bench.dir, People: *benchPeople, Seed: 1})
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.dir
}

// benchDataset opens the benchmarks' dataset, once.
func benchDataset(b *testing.B) *Dataset {
	b.Helper()
	dir := benchDir(b)
	bench.openOnce.Do(func() { bench.d, bench.err = Open(context.Background(), dir) })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.d
}

// selectiveQuery is city AND province of the first person: about 100 of a
// million people.
func selectiveQuery(b *testing.B, d *Dataset) string {
	res, err := d.Search(b.Context(), "people", "*", 1)
	if err != nil {
		b.Fatal(err)
	}
	for rec, err := range res.Records {
		if err != nil {
			b.Fatal(err)
		}
		city, province := rec.Values("city")[0].(string), rec.Values("province")[0].(string)
		return fmt.Sprintf(`city:"%s" AND province:%s`, city, province)
	}
	b.Fatal("no people")
	return ""
}

func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// BenchmarkOpen loads and indexes the people file; it reports the time, the
// index's own count of its bytes, and the heap and resident memory it adds.
// It runs first, so that the resident memory it reports (after giving freed
// memory back to the OS) holds this one index and the Go runtime only.
func BenchmarkOpen(b *testing.B) {
	dir := benchDir(b)
	for b.Loop() {
		before := heapMB()
		start := time.Now()
		d, err := Open(b.Context(), dir)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
		b.ReportMetric(heapMB()-before, "heap-MB")
		b.ReportMetric(float64(d.IndexBytes("people"))/(1<<20), "index-MB")
		debug.FreeOSMemory()
		b.ReportMetric(rssMB(), "rss-MB")
		d.Close()
	}
}

// BenchmarkSearchSelective is a search for city and province (about 100
// hits), limit 10: its latency, median and 99th percentile, and the records
// it streams per second.
func BenchmarkSearchSelective(b *testing.B) {
	d := benchDataset(b)
	q := selectiveQuery(b, d)
	var lat []time.Duration
	found, records := 0, 0
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		res, err := d.Search(b.Context(), "people", q, 10)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range res.Records {
			if err != nil {
				b.Fatal(err)
			}
			records++
		}
		lat = append(lat, time.Since(t0))
		found = res.Found
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(found), "found")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
}

// BenchmarkSearchScan streams every person (the query *).
func BenchmarkSearchScan(b *testing.B) {
	d := benchDataset(b)
	records := 0
	start := time.Now()
	for b.Loop() {
		res, err := d.Search(b.Context(), "people", "*", d.Len("people"))
		if err != nil {
			b.Fatal(err)
		}
		for rec, err := range res.Records {
			if err != nil {
				b.Fatal(err)
			}
			_ = rec
			records++
		}
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkSearchForms times other query forms on the same dataset.
func BenchmarkSearchForms(b *testing.B) {
	d := benchDataset(b)
	for _, q := range []string{
		`name:"john smith"`,
		`address:"main st" AND province:TX`,
		`email:john.sm*`,
		`birthDate:[1990-01-01 TO 1990-01-31]`,
		`province:TX -city:austin`,
		`employer:*`,
	} {
		b.Run(q, func(b *testing.B) {
			found := 0
			for b.Loop() {
				res, err := d.Search(b.Context(), "people", q, 10)
				if err != nil {
					b.Fatal(err)
				}
				for _, err := range res.Records {
					if err != nil {
						b.Fatal(err)
					}
				}
				found = res.Found
			}
			b.ReportMetric(float64(found), "found")
		})
	}
}

// BenchmarkMatch enriches 10,000 items by name and postal code, taken from
// every 100th person.
func BenchmarkMatch(b *testing.B) {
	d := benchDataset(b)
	res, err := d.Search(b.Context(), "people", "*", 1_000_000)
	if err != nil {
		b.Fatal(err)
	}
	var items []source.Item
	i := 0
	for rec, err := range res.Records {
		if err != nil {
			b.Fatal(err)
		}
		if i++; i%100 == 0 {
			items = append(items, source.Item{"name": strings.ToUpper(rec.Values("name")[0].(string)), "postalCode": rec.Values("postalCode")[0]})
		}
		if len(items) == 10_000 {
			break
		}
	}
	// The first match on a field builds its dictionary of values.
	first := time.Now()
	stream, err := d.Match(b.Context(), "people", []string{"name", "postalCode"}, items[:1])
	if err != nil {
		b.Fatal(err)
	}
	for _, err := range stream {
		if err != nil {
			b.Fatal(err)
		}
	}
	firstS := time.Since(first).Seconds()
	matched := 0
	start := time.Now()
	for b.Loop() {
		stream, err := d.Match(b.Context(), "people", []string{"name", "postalCode"}, items)
		if err != nil {
			b.Fatal(err)
		}
		matched = 0
		for m, err := range stream {
			if err != nil {
				b.Fatal(err)
			}
			if m.Matched {
				matched++
			}
		}
	}
	b.ReportMetric(firstS, "first-s")
	b.ReportMetric(float64(matched), "matched")
	b.ReportMetric(float64(b.N*len(items))/time.Since(start).Seconds(), "items/s")
}

// BenchmarkGenerate writes -bench.people people.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		start := time.Now()
		files, err := Generate(b.Context(), GenerateConfig{Dir: dir, People: *benchPeople, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(*benchPeople)/time.Since(start).Seconds(), "records/s")
		b.ReportMetric(float64(files[0].Bytes)/1e6, "MB")
	}
}

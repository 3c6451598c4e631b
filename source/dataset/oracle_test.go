package dataset

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/internal/jsonscan"
	"github.com/creditrun/creditrun/source/internal/text"
	"github.com/creditrun/creditrun/source/query"
)

// oracleLeaf is one scalar of a record, as the naive evaluator sees it.
type oracleLeaf struct {
	path  string
	kind  jsonscan.Kind
	text  string // unescaped
	words []string
}

type oracleRecord struct {
	id     string
	leaves []oracleLeaf
}

func oracleRecords(t *testing.T, d *Dataset, dataType string) []oracleRecord {
	t.Helper()
	res, err := d.Search(t.Context(), dataType, "*", d.Len(dataType))
	if err != nil {
		t.Fatal(err)
	}
	var out []oracleRecord
	for rec, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		or := oracleRecord{id: rec.ID}
		err := jsonscan.Walk(rec.Raw, func(p []byte, kind jsonscan.Kind, val []byte, escaped, _ bool) {
			l := oracleLeaf{path: string(p), kind: kind, text: string(val)}
			if escaped {
				l.text = string(jsonscan.AppendUnquote(nil, val))
			}
			switch kind {
			case jsonscan.Null:
			case jsonscan.Number:
				v, _ := strconv.ParseFloat(l.text, 64)
				l.words = []string{strconv.FormatFloat(v, 'f', -1, 64)}
			default:
				l.words = text.Tokens(l.text)
			}
			or.leaves = append(or.leaves, l)
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, or)
	}
	return out
}

func (r *oracleRecord) under(path string) iter.Seq2[int, oracleLeaf] {
	return func(yield func(int, oracleLeaf) bool) {
		for i, l := range r.leaves {
			if underPath([]byte(l.path), path) && !yield(i, l) {
				return
			}
		}
	}
}

func (l oracleLeaf) number() (float64, bool) {
	switch l.kind {
	case jsonscan.Number:
		v, err := strconv.ParseFloat(l.text, 64)
		return v, err == nil && !math.IsInf(v, 0)
	case jsonscan.String:
		if text.IsDecimal([]byte(l.text)) {
			v, err := strconv.ParseFloat(l.text, 64)
			return v, err == nil && !math.IsInf(v, 0)
		}
	}
	return 0, false
}

// matches is the query language's meaning, evaluated the slow way.
func (r *oracleRecord) matches(n query.Node) bool {
	switch n := n.(type) {
	case *query.All:
		return true
	case *query.Not:
		return !r.matches(n.Clause)
	case *query.And:
		for _, c := range n.Clauses {
			if !r.matches(c) {
				return false
			}
		}
		return true
	case *query.Or:
		for _, c := range n.Clauses {
			if r.matches(c) {
				return true
			}
		}
		return false
	case *query.Exists:
		if n.Field == "id" {
			return true
		}
		for _, l := range r.under(n.Field) {
			if len(l.words) > 0 {
				return true
			}
		}
		return false
	case *query.Term:
		if n.Field == "id" {
			if n.Prefix {
				return strings.HasPrefix(r.id, n.Value)
			}
			return r.id == n.Value
		}
		words := text.Tokens(n.Value)
		for _, l := range r.under(n.Field) {
			if hasRun(l.words, words, n.Prefix) {
				return true
			}
			if v, ok := number(query.Bound{Value: n.Value}); ok && !n.Phrase && !n.Prefix {
				if lv, ok := l.number(); ok && lv == v {
					return true
				}
			}
		}
		return false
	case *query.Range:
		if n.Field == "id" {
			return inRange(r.id, n.Low, n.High)
		}
		if n.Low.Unbounded && n.High.Unbounded {
			return r.matches(&query.Exists{Field: n.Field})
		}
		lo, loNum := number(n.Low)
		hi, hiNum := number(n.High)
		for _, l := range r.under(n.Field) {
			if loNum && hiNum {
				v, ok := l.number()
				if ok && (n.Low.Unbounded || v > lo || n.Low.Inclusive && v == lo) && (n.High.Unbounded || v < hi || n.High.Inclusive && v == hi) {
					return true
				}
				continue
			}
			key, _ := valueKey(nil, nil, l.kind, []byte(l.text), false)
			if len(key) == 0 {
				continue
			}
			low, high := n.Low, n.High
			low.Value, high.Value = text.Key(low.Value), text.Key(high.Value)
			if inRange(string(key), low, high) {
				return true
			}
		}
		return false
	}
	panic(fmt.Sprintf("unknown node %T", n))
}

func hasRun(got, want []string, prefix bool) bool {
	for s := 0; s+len(want) <= len(got); s++ {
		ok := true
		for k, w := range want {
			if prefix && k == len(want)-1 {
				ok = strings.HasPrefix(got[s+k], w)
			} else {
				ok = got[s+k] == w
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func inRange(s string, lo, hi query.Bound) bool {
	if !lo.Unbounded {
		if c := strings.Compare(s, lo.Value); c < 0 || c == 0 && !lo.Inclusive {
			return false
		}
	}
	if !hi.Unbounded {
		if c := strings.Compare(s, hi.Value); c > 0 || c == 0 && !hi.Inclusive {
			return false
		}
	}
	return true
}

// TestSearchAgainstOracle runs generated queries on a generated dataset and
// compares the index's answers with the slow evaluation above. The dataset is
// big enough for the sets to take every form (lists, bitmaps, all).
// It runs on each way of holding the index (openModes).
func TestSearchAgainstOracle(t *testing.T) {
	dir := t.TempDir()
	generate(t, GenerateConfig{Dir: dir, People: 2000, Properties: 1000, Seed: 3})
	for _, m := range openModes(t, dir) {
		t.Run(m.name, func(t *testing.T) { searchAgainstOracle(t, m.d) })
	}
}

func searchAgainstOracle(t *testing.T, d *Dataset) {
	for _, dataType := range []string{source.People, source.Properties} {
		recs := oracleRecords(t, d, dataType)
		r := rng{s: 99}
		for range 300 {
			q := randomQuery(&r, recs, 3)
			n, err := query.Parse(q)
			if err != nil {
				t.Fatalf("generated query %q: %v", q, err)
			}
			want := []string{}
			for i := range recs {
				if recs[i].matches(n) {
					want = append(want, recs[i].id)
				}
			}
			found, got := searchIDs(t, d, dataType, q, len(recs))
			if testing.Verbose() {
				t.Logf("%s %d %q", dataType, found, q)
			}
			if found != len(want) || !cmp.Equal(want, got) {
				t.Fatalf("%s %q: found %d, want %d; diff (-oracle +index):\n%s", dataType, q, found, len(want), cmp.Diff(want, got))
			}
		}
	}
}

// randomQuery builds a query from the words and values of random records.
func randomQuery(r *rng, recs []oracleRecord, depth int) string {
	if depth > 0 && r.chance(45) {
		a, b := randomQuery(r, recs, depth-1), randomQuery(r, recs, depth-1)
		switch r.intn(4) {
		case 0:
			return "(" + a + " OR " + b + ")"
		case 1:
			return "(" + a + " AND " + b + ")"
		case 2:
			return "(" + a + " -" + b + ")"
		}
		return "NOT " + a
	}
	rec := recs[r.intn(len(recs))]
	l := rec.leaves[r.intn(len(rec.leaves))]
	field := l.path
	if l.path == "id" {
		switch r.intn(3) {
		case 0:
			return "id:" + rec.id
		case 1:
			return "id:" + rec.id[:len(rec.id)-2] + "*"
		}
		other := recs[r.intn(len(recs))].id
		lo, hi := min(rec.id, other), max(rec.id, other)
		return "id:{" + lo + " TO " + hi + "]"
	}
	if r.chance(10) && strings.Contains(field, ".") {
		field = field[:strings.IndexByte(field, '.')] // a path naming an object
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
	switch r.intn(7) {
	case 0:
		return field + ":*"
	case 1:
		if n, ok := l.number(); ok {
			other := n + float64(r.between(-5000, 5000))
			return fmt.Sprintf("%s:[%g TO %g}", field, min(n, other), max(n, other))
		}
		fallthrough
	case 2:
		other := recs[r.intn(len(recs))].leaves
		o := other[r.intn(len(other))].text
		lo, hi := min(l.text, o), max(l.text, o)
		return field + ":[" + quote(lo) + " TO " + quote(hi) + "]"
	case 3:
		if len(l.words) > 0 {
			w := l.words[r.intn(len(l.words))]
			return field + ":" + w[:1+r.intn(len(w))] + "*"
		}
	case 4:
		if len(l.words) > 1 {
			k := r.intn(len(l.words) - 1)
			return field + `:"` + strings.Join(l.words[k:k+2], " ") + `"`
		}
	case 5:
		if l.kind == jsonscan.Number {
			return field + ":" + l.text
		}
	}
	if len(l.words) == 0 {
		return field + ":*"
	}
	return field + ":" + quote(l.words[r.intn(len(l.words))])
}

// TestConcurrentUse searches and matches from many goroutines at once,
// including the first uses that build value dictionaries (run with -race).
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	generate(t, GenerateConfig{Dir: dir, People: 500, Businesses: 300, Seed: 5})
	for _, m := range openModes(t, dir) {
		t.Run(m.name, func(t *testing.T) { concurrentUse(t, m.d) })
	}
}

func concurrentUse(t *testing.T, d *Dataset) {
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				res, err := d.Search(t.Context(), "people", fmt.Sprintf("birthDate:[19%d0 TO 2000-01-01] OR province:TX", 4+(g+i)%5), 50)
				if err != nil {
					errs <- err
					return
				}
				for _, err := range res.Records {
					if err != nil {
						errs <- err
						return
					}
				}
				stream, err := d.Match(t.Context(), "businesses", []string{"name", "postalCode"}, []source.Item{{"name": "x", "postalCode": "1"}})
				if err != nil {
					errs <- err
					return
				}
				for _, err := range stream {
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

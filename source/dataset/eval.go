package dataset

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/source/internal/jsonscan"
	"github.com/creditrun/creditrun/source/internal/text"
	"github.com/creditrun/creditrun/source/query"
)

// evaluator computes the set of records a query matches from the index. Only
// a phrase (several words in order) reads records, to check the order of the
// words in the candidates that have all of them.
type evaluator struct {
	ctx context.Context
	t   *table
	r   reader
	b   budget
}

// newEvaluator returns an evaluator of queries on t that may take maxSteps
// steps (see budget.go), or any number when maxSteps is 0.
func newEvaluator(ctx context.Context, t *table, maxSteps int64) *evaluator {
	return &evaluator{ctx: ctx, t: t, r: reader{t: t}, b: budget{max: maxSteps}}
}

func (e *evaluator) none() *docSet { return listDocs(e.t.n, nil) }

// eval returns the records in within that n matches. It returns a
// *source.BudgetError once the search has taken more steps than its budget.
func (e *evaluator) eval(n query.Node, within *docSet) (*docSet, error) {
	if err := e.ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.b.check(); err != nil {
		return nil, err
	}
	set, err := e.node(n, within)
	if err != nil {
		return nil, err
	}
	if err := e.b.check(); err != nil {
		return nil, err
	}
	return set, nil
}

// node is eval of one node, which the budget checks around.
func (e *evaluator) node(n query.Node, within *docSet) (*docSet, error) {
	switch n := n.(type) {
	case *query.All:
		return within, nil
	case *query.Term:
		if n.Field == "id" {
			return e.intersect(within, e.idTerm(n)), nil
		}
		return e.term(n, within)
	case *query.Exists:
		if n.Field == "id" {
			return within, nil
		}
		return e.intersect(within, e.exists(n.Field)), nil
	case *query.Range:
		if n.Field == "id" {
			return e.intersect(within, e.idRange(n)), nil
		}
		set, err := e.rangeSet(n)
		if err != nil {
			return nil, err
		}
		return e.intersect(within, set), nil
	case *query.Not:
		x, err := e.eval(n.Clause, within)
		if err != nil {
			return nil, err
		}
		return e.subtract(within, x), nil
	case *query.And:
		// The most selective clauses first, so that the others, phrases above
		// all, only look at what is left.
		clauses := slices.Clone(n.Clauses)
		cost := make(map[query.Node]int, len(clauses))
		for _, c := range clauses {
			cost[c] = e.estimate(c)
		}
		slices.SortStableFunc(clauses, func(a, b query.Node) int { return cost[a] - cost[b] })
		cur := within
		for _, c := range clauses {
			var err error
			if cur, err = e.eval(c, cur); err != nil {
				return nil, err
			}
			if cur.count() == 0 {
				break
			}
		}
		return cur, nil
	case *query.Or:
		acc := e.none()
		for _, c := range n.Clauses {
			x, err := e.eval(c, within)
			if err != nil {
				return nil, err
			}
			acc = e.union(acc, x)
		}
		return acc, nil
	}
	panic("dataset: unknown query node")
}

// estimate is an upper bound of the records n matches, for ordering the
// clauses of an AND. Phrases count more, for the records they read.
func (e *evaluator) estimate(n query.Node) int {
	switch n := n.(type) {
	case *query.Term:
		if n.Field == "id" {
			return 1
		}
		words := text.Tokens(n.Value)
		best := e.t.n
		for i, w := range words {
			sum := 0
			for _, f := range e.t.fieldsAt(n.Field) {
				if n.Prefix && i == len(words)-1 {
					a, b := f.tokens.prefixRange([]byte(w))
					sum += len(f.tokens.postings(a, b))
				} else {
					sum += len(f.tokens.lookup([]byte(w)))
				}
			}
			best = min(best, sum)
		}
		if len(words) > 1 {
			best *= 8
		}
		return best
	case *query.Exists:
		return e.fieldSize(n.Field)
	case *query.Range:
		return e.fieldSize(n.Field)
	case *query.And:
		best := e.t.n
		for _, c := range n.Clauses {
			best = min(best, e.estimate(c))
		}
		return best
	case *query.Or:
		sum := 0
		for _, c := range n.Clauses {
			sum += e.estimate(c)
		}
		return sum
	}
	return e.t.n // All, Not
}

// term evaluates field:value, field:"phrase" and field:val*.
func (e *evaluator) term(n *query.Term, within *docSet) (*docSet, error) {
	words := text.Tokens(n.Value)
	fields := e.t.fieldsAt(n.Field)
	acc := e.none()
	for _, f := range fields {
		sets := make([]*docSet, len(words))
		for i, w := range words {
			if n.Prefix && i == len(words)-1 {
				a, b := f.tokens.prefixRange([]byte(w))
				if b-a == 1 {
					sets[i] = listDocs(e.t.n, f.tokens.postings(a, b))
				} else {
					sets[i] = e.fromUnsorted(f.tokens.postings(a, b))
				}
			} else {
				sets[i] = listDocs(e.t.n, f.tokens.lookup([]byte(w)))
			}
		}
		slices.SortFunc(sets, func(a, b *docSet) int { return a.count() - b.count() })
		cur := within
		for _, s := range sets {
			if cur = e.intersect(cur, s); cur.count() == 0 {
				break
			}
		}
		acc = e.union(acc, cur)
	}
	if len(words) > 1 && acc.count() > 0 {
		var err error
		if acc, err = e.verifyPhrase(acc, n.Field, words, n.Prefix); err != nil {
			return nil, err
		}
	}
	// A plain decimal also matches the values equal to it as numbers:
	// numbers, which are one word each ("41.5"), and decimal strings.
	if v, ok := number(query.Bound{Value: n.Value}); ok && !n.Phrase && !n.Prefix {
		for _, f := range fields {
			i, j := f.nums.valueRange(v, false, true, v, false, true)
			acc = e.union(acc, e.intersect(within, e.fromUnsorted(f.nums.ords[i:j])))
		}
	}
	return acc, nil
}

// verifyPhrase keeps the records of cand in which a value under path has the
// words in order, the last one as a prefix when prefix is set.
func (e *evaluator) verifyPhrase(cand *docSet, path string, words []string, prefix bool) (*docSet, error) {
	var (
		out    []uint32
		toks   []byte // the words of the current value, back to back
		ends   []int  // where each ends in toks
		tokBuf []byte // scratch
		str    []byte // scratch
		found  bool
		c      = cursor{s: cand}
		batch  = make([]uint32, 0, batchSize)
		seen   = 0
		wbytes = make([][]byte, len(words))
	)
	for i, w := range words {
		wbytes[i] = []byte(w)
	}
	leaf := func(p []byte, kind jsonscan.Kind, val []byte, escaped, _ bool) {
		if found || kind == jsonscan.Null || kind == jsonscan.Number || !underPath(p, path) {
			return // a number is one word, which no phrase equals
		}
		if escaped {
			str = jsonscan.AppendUnquote(str[:0], val)
			val = str
		}
		toks, ends = toks[:0], ends[:0]
		tokBuf = text.AppendTokens(tokBuf, val, func(w []byte) {
			toks = append(toks, w...)
			ends = append(ends, len(toks))
		})
		found = hasSequence(toks, ends, wbytes, prefix)
	}
	for {
		batch = c.fill(batch[:0], batchSize)
		if len(batch) == 0 {
			break
		}
		for i, ord := range batch {
			if seen++; seen%ctxEvery == 0 {
				if err := e.ctx.Err(); err != nil {
					return nil, err
				}
				if err := e.b.check(); err != nil {
					return nil, err
				}
			}
			e.b.spend(RecordSteps)
			raw, err := e.r.raw(ord, batch[i+1:])
			if err != nil {
				return nil, err
			}
			found = false
			_ = jsonscan.Walk(raw, leaf)
			if found {
				out = append(out, ord)
			}
		}
	}
	return listDocs(e.t.n, out), nil
}

// underPath reports whether the leaf path p is path or lies inside it.
func underPath(p []byte, path string) bool {
	return string(p) == path || len(p) > len(path) && p[len(path)] == '.' && string(p[:len(path)]) == path
}

// hasSequence reports whether the words toks (ending at ends) hold words as a
// run.
func hasSequence(toks []byte, ends []int, words [][]byte, prefix bool) bool {
	word := func(i int) []byte {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		return toks[start:ends[i]]
	}
	for s := 0; s+len(words) <= len(ends); s++ {
		ok := true
		for k, w := range words {
			got := word(s + k)
			if prefix && k == len(words)-1 {
				ok = bytes.HasPrefix(got, w)
			} else {
				ok = bytes.Equal(got, w)
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

// exists is the records with a non-empty value under path: one that has a
// word.
func (e *evaluator) exists(path string) *docSet {
	acc := e.none()
	for _, f := range e.t.fieldsAt(path) {
		acc = e.union(acc, e.fromUnsorted(f.tokens.posts))
	}
	return acc
}

// rangeSet evaluates a range: numerically when both ends are numbers (or
// open), otherwise on the normalized strings.
func (e *evaluator) rangeSet(n *query.Range) (*docSet, error) {
	if n.Low.Unbounded && n.High.Unbounded {
		return e.exists(n.Field), nil
	}
	lo, loNum := number(n.Low)
	hi, hiNum := number(n.High)
	acc := e.none()
	for _, f := range e.t.fieldsAt(n.Field) {
		if loNum && hiNum {
			i, j := f.nums.valueRange(lo, n.Low.Unbounded, n.Low.Inclusive, hi, n.High.Unbounded, n.High.Inclusive)
			acc = e.union(acc, e.fromUnsorted(f.nums.ords[i:j]))
			continue
		}
		var loKey, hiKey []byte
		if !n.Low.Unbounded {
			loKey = text.AppendKey([]byte{}, []byte(n.Low.Value))
		}
		if !n.High.Unbounded {
			hiKey = text.AppendKey([]byte{}, []byte(n.High.Value))
		}
		values, err := e.t.valuesOf(e.ctx, f)
		if err != nil {
			return nil, err
		}
		i, j := values.termRange(loKey, n.Low.Inclusive, hiKey, n.High.Inclusive)
		acc = e.union(acc, e.fromUnsorted(values.postings(i, j)))
	}
	return acc, nil
}

// idTerm evaluates a term on the id, which matches as written: id:x, id:x*.
func (e *evaluator) idTerm(n *query.Term) *docSet {
	t := e.t
	v := []byte(n.Value)
	if !n.Prefix {
		if ord, ok := t.lookupID(v); ok {
			return listDocs(t.n, []uint32{ord})
		}
		return e.none()
	}
	i := t.idLowerBound(v)
	j := i + sort.Search(len(t.byID)-i, func(k int) bool { return !bytes.HasPrefix(t.id(t.byID[i+k]), v) })
	return e.fromUnsorted(t.byID[i:j])
}

// idRange evaluates a range of ids, which compare as written, byte by byte.
func (e *evaluator) idRange(n *query.Range) *docSet {
	t := e.t
	i, j := 0, len(t.byID)
	if !n.Low.Unbounded {
		lo := []byte(n.Low.Value)
		if i = t.idLowerBound(lo); !n.Low.Inclusive {
			for i < j && bytes.Equal(t.id(t.byID[i]), lo) {
				i++
			}
		}
	}
	if !n.High.Unbounded {
		hi := []byte(n.High.Value)
		if j = t.idLowerBound(hi); n.High.Inclusive {
			for j < len(t.byID) && bytes.Equal(t.id(t.byID[j]), hi) {
				j++
			}
		}
	}
	return e.fromUnsorted(t.byID[i:max(i, j)])
}

// number reads a range bound as a number; an open bound counts as one.
func number(b query.Bound) (float64, bool) {
	if b.Unbounded {
		return 0, true
	}
	s := strings.TrimPrefix(b.Value, "+")
	if !text.IsDecimal([]byte(s)) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// fieldSize is the postings of the fields under path, a bound of what a
// query on it can match.
func (e *evaluator) fieldSize(path string) int {
	if path == "id" {
		return e.t.n
	}
	sum := 0
	for _, f := range e.t.fieldsAt(path) {
		sum += len(f.tokens.posts) + len(f.nums.ords)
	}
	return sum
}

package dataset

import (
	"bytes"
	"cmp"
	"slices"
	"sort"
)

// dict is a sorted term dictionary with a posting list per term, stored flat
// so that a term costs 8 bytes besides its text and a posting 4 bytes,
// however many terms there are (millions of emails and phone numbers have one
// posting each). Because terms are sorted and their postings lie in term
// order in one arena, a prefix or a range of terms is one slice of the arena.
type dict struct {
	text   []byte   // the terms, sorted, back to back
	ends   []uint32 // ends[i] is where term i ends in text
	posts  []uint32 // postings of term i: posts[starts[i]:starts[i+1]], ascending ordinals
	starts []uint32 // len(ends)+1 entries
}

func (d *dict) len() int { return len(d.ends) }

func (d *dict) term(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = d.ends[i-1]
	}
	return d.text[start:d.ends[i]]
}

// lowerBound returns the index of the first term >= s.
func (d *dict) lowerBound(s []byte) int {
	return sort.Search(d.len(), func(i int) bool { return bytes.Compare(d.term(i), s) >= 0 })
}

// upperBound returns the index of the first term > s.
func (d *dict) upperBound(s []byte) int {
	return sort.Search(d.len(), func(i int) bool { return bytes.Compare(d.term(i), s) > 0 })
}

// lookup returns the postings of term s, nil when it is absent.
func (d *dict) lookup(s []byte) []uint32 {
	i := d.lowerBound(s)
	if i < d.len() && bytes.Equal(d.term(i), s) {
		return d.posts[d.starts[i]:d.starts[i+1]]
	}
	return nil
}

// prefixRange returns the terms [i, j) that start with prefix.
func (d *dict) prefixRange(prefix []byte) (int, int) {
	i := d.lowerBound(prefix)
	j := i + sort.Search(d.len()-i, func(k int) bool { return !bytes.HasPrefix(d.term(i+k), prefix) })
	return i, j
}

// termRange returns the terms [i, j) between lo and hi; a nil bound is open.
func (d *dict) termRange(lo []byte, loInc bool, hi []byte, hiInc bool) (int, int) {
	i, j := 0, d.len()
	if lo != nil {
		if loInc {
			i = d.lowerBound(lo)
		} else {
			i = d.upperBound(lo)
		}
	}
	if hi != nil {
		if hiInc {
			j = d.upperBound(hi)
		} else {
			j = d.lowerBound(hi)
		}
	}
	return i, max(i, j)
}

// postings returns the postings of the terms [i, j), back to back: each
// term's run is ascending, the whole is not.
func (d *dict) postings(i, j int) []uint32 {
	return d.posts[d.starts[i]:d.starts[j]]
}

func (d *dict) bytes() int {
	return cap(d.text) + 4*(cap(d.ends)+cap(d.posts)+cap(d.starts))
}

// dictBuilder collects the postings of a dict while records are read in
// order, so every term's postings come out ascending.
type dictBuilder struct {
	ids   map[string]uint32
	terms []string
	last  []uint32 // 1 + the last ordinal added per term, to add each once
	pairs []uint64 // term id << 32 | ordinal
}

func (b *dictBuilder) add(term []byte, ord uint32) {
	id, ok := b.ids[string(term)]
	if !ok {
		if b.ids == nil {
			b.ids = make(map[string]uint32)
		}
		id = uint32(len(b.terms))
		s := string(term)
		b.ids[s] = id
		b.terms = append(b.terms, s)
		b.last = append(b.last, 0)
	}
	if b.last[id] == ord+1 {
		return
	}
	b.last[id] = ord + 1
	b.pairs = append(b.pairs, uint64(id)<<32|uint64(ord))
}

// build sorts the terms and lays the postings out in term order. The builder
// is empty afterwards.
func (b *dictBuilder) build() dict {
	k := len(b.terms)
	order := make([]uint32, k)
	textLen := 0
	for i := range order {
		order[i] = uint32(i)
		textLen += len(b.terms[i])
	}
	slices.SortFunc(order, func(x, y uint32) int { return cmp.Compare(b.terms[x], b.terms[y]) })
	d := dict{
		text:   make([]byte, 0, textLen),
		ends:   make([]uint32, k),
		posts:  make([]uint32, len(b.pairs)),
		starts: make([]uint32, k+1),
	}
	rank := b.last[:k] // reused: term id -> sorted position
	for pos, id := range order {
		d.text = append(d.text, b.terms[id]...)
		d.ends[pos] = uint32(len(d.text))
		rank[id] = uint32(pos)
	}
	b.ids, b.terms = nil, nil
	for _, p := range b.pairs {
		d.starts[rank[p>>32]+1]++
	}
	for i := 1; i <= k; i++ {
		d.starts[i] += d.starts[i-1]
	}
	next := order // reused: write cursor per sorted position
	copy(next, d.starts[:k])
	for _, p := range b.pairs {
		pos := rank[p>>32]
		d.posts[next[pos]] = uint32(p)
		next[pos]++
	}
	*b = dictBuilder{}
	return d
}

// numDict holds the numeric values of a field, sorted, with the ordinal of
// the record each comes from.
type numDict struct {
	vals []float64
	ords []uint32
}

// valueRange returns the entries [i, j) between lo and hi.
func (d *numDict) valueRange(lo float64, loOpen, loInc bool, hi float64, hiOpen, hiInc bool) (int, int) {
	i, j := 0, len(d.vals)
	if !loOpen {
		if loInc {
			i = sort.SearchFloat64s(d.vals, lo)
		} else {
			i = sort.Search(len(d.vals), func(k int) bool { return d.vals[k] > lo })
		}
	}
	if !hiOpen {
		if hiInc {
			j = sort.Search(len(d.vals), func(k int) bool { return d.vals[k] > hi })
		} else {
			j = sort.SearchFloat64s(d.vals, hi)
		}
	}
	return i, max(i, j)
}

func (d *numDict) bytes() int { return 8*cap(d.vals) + 4*cap(d.ords) }

type numBuilder struct {
	vals []float64
	ords []uint32
}

func (b *numBuilder) add(v float64, ord uint32) {
	n := len(b.ords)
	if n > 0 && b.ords[n-1] == ord && b.vals[n-1] == v {
		return
	}
	b.vals = append(b.vals, v)
	b.ords = append(b.ords, ord)
}

func (b *numBuilder) build() numDict {
	type pair struct {
		v float64
		o uint32
	}
	pairs := make([]pair, len(b.vals))
	for i := range pairs {
		pairs[i] = pair{b.vals[i], b.ords[i]}
	}
	*b = numBuilder{}
	slices.SortFunc(pairs, func(x, y pair) int {
		if c := cmp.Compare(x.v, y.v); c != 0 {
			return c
		}
		return cmp.Compare(x.o, y.o)
	})
	d := numDict{vals: make([]float64, len(pairs)), ords: make([]uint32, len(pairs))}
	for i, p := range pairs {
		d.vals[i], d.ords[i] = p.v, p.o
	}
	return d
}

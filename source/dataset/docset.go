package dataset

import (
	"math/bits"
	"slices"
)

// docSet is a set of record ordinals of one table: every ordinal, a sorted
// list (sparse sets, and posting lists, which it shares without copying), or
// a bitmap (dense sets). Operations never modify their operands.
type docSet struct {
	n    int      // ordinals are in [0, n)
	all  bool     // every ordinal
	bits []uint64 // when not nil: the set as a bitmap
	list []uint32 // otherwise: the set, ascending
	size int      // cardinality, when bits != nil
}

func allDocs(n int) *docSet { return &docSet{n: n, all: true} }

func listDocs(n int, list []uint32) *docSet { return &docSet{n: n, list: list} }

func (s *docSet) count() int {
	switch {
	case s.all:
		return s.n
	case s.bits != nil:
		return s.size
	}
	return len(s.list)
}

// denseBelow is the density under which a set stays a list: a list costs 4
// bytes per member, a bitmap n/8 bytes in all.
const denseBelow = 32

func newBits(n int) []uint64 { return make([]uint64, (n+63)/64) }

func bitsDocs(n int, b []uint64) *docSet {
	size := 0
	for _, w := range b {
		size += bits.OnesCount64(w)
	}
	return &docSet{n: n, bits: b, size: size}
}

func (s *docSet) has(ord uint32) bool {
	switch {
	case s.all:
		return int(ord) < s.n
	case s.bits != nil:
		return s.bits[ord>>6]&(1<<(ord&63)) != 0
	}
	_, ok := slices.BinarySearch(s.list, ord)
	return ok
}

// fromUnsorted makes a set of ords, which may be unordered and repeat.
func fromUnsorted(n int, ords []uint32) *docSet {
	if len(ords)*denseBelow < n {
		l := slices.Clone(ords)
		slices.Sort(l)
		return listDocs(n, slices.Compact(l))
	}
	b := newBits(n)
	for _, o := range ords {
		b[o>>6] |= 1 << (o & 63)
	}
	return bitsDocs(n, b)
}

// intersect returns a ∩ b.
func intersect(a, b *docSet) *docSet {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	case a.bits != nil && b.bits != nil:
		out := newBits(a.n)
		for i := range out {
			out[i] = a.bits[i] & b.bits[i]
		}
		return bitsDocs(a.n, out)
	case a.bits != nil:
		return filterList(b, a, true)
	case b.bits != nil:
		return filterList(a, b, true)
	}
	return listDocs(a.n, intersectLists(a.list, b.list))
}

// subtract returns a \ b.
func subtract(a, b *docSet) *docSet {
	switch {
	case b.all:
		return listDocs(a.n, nil)
	case b.count() == 0:
		return a
	case a.all:
		out := newBits(a.n)
		for i := range out {
			out[i] = ^uint64(0)
		}
		if r := a.n % 64; r != 0 {
			out[len(out)-1] = 1<<r - 1
		}
		if b.bits != nil {
			for i := range out {
				out[i] &^= b.bits[i]
			}
		} else {
			for _, o := range b.list {
				out[o>>6] &^= 1 << (o & 63)
			}
		}
		return bitsDocs(a.n, out)
	case a.bits != nil:
		out := slices.Clone(a.bits)
		if b.bits != nil {
			for i := range out {
				out[i] &^= b.bits[i]
			}
		} else {
			for _, o := range b.list {
				out[o>>6] &^= 1 << (o & 63)
			}
		}
		return bitsDocs(a.n, out)
	}
	return filterList(a, b, false)
}

// union returns a ∪ b.
func union(a, b *docSet) *docSet {
	switch {
	case a.all:
		return a
	case b.all:
		return b
	case a.count() == 0:
		return b
	case b.count() == 0:
		return a
	case a.bits == nil && b.bits == nil && (len(a.list)+len(b.list))*denseBelow < a.n:
		return listDocs(a.n, mergeLists(a.list, b.list))
	}
	out := newBits(a.n)
	for _, s := range []*docSet{a, b} {
		if s.bits != nil {
			for i := range out {
				out[i] |= s.bits[i]
			}
		} else {
			for _, o := range s.list {
				out[o>>6] |= 1 << (o & 63)
			}
		}
	}
	return bitsDocs(a.n, out)
}

// filterList keeps the members of list set l that are (keep) or are not in m.
func filterList(l, m *docSet, keep bool) *docSet {
	var out []uint32
	for _, o := range l.list {
		if m.has(o) == keep {
			out = append(out, o)
		}
	}
	return listDocs(l.n, out)
}

// intersectLists intersects two ascending lists, galloping through the longer
// one when their sizes differ a lot.
func intersectLists(a, b []uint32) []uint32 {
	if len(a) > len(b) {
		a, b = b, a
	}
	var out []uint32
	if len(a) == 0 {
		return out
	}
	if len(b)/len(a) >= 16 {
		for _, x := range a {
			i, found := gallop(b, x)
			if found {
				out = append(out, x)
			}
			b = b[i:]
			if len(b) == 0 {
				break
			}
		}
		return out
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// gallop finds the first index of b holding a value >= x, and whether it is x.
func gallop(b []uint32, x uint32) (int, bool) {
	hi := 1
	for hi < len(b) && b[hi] < x {
		hi *= 2
	}
	lo := hi / 2
	i, found := slices.BinarySearch(b[lo:min(hi+1, len(b))], x)
	return lo + i, found
}

func mergeLists(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// cursor walks a docSet in ascending order.
type cursor struct {
	s    *docSet
	next int // all: next ordinal; list: next index; bits: next word
	word uint64
}

// fill appends ordinals to dst up to a length of limit and returns it; a
// shorter dst means the end.
func (c *cursor) fill(dst []uint32, limit int) []uint32 {
	s := c.s
	switch {
	case s.all:
		for len(dst) < limit && c.next < s.n {
			dst = append(dst, uint32(c.next))
			c.next++
		}
	case s.bits != nil:
		for len(dst) < limit {
			for c.word == 0 {
				if c.next >= len(s.bits) {
					return dst
				}
				c.word = s.bits[c.next]
				c.next++
			}
			t := bits.TrailingZeros64(c.word)
			c.word &= c.word - 1
			dst = append(dst, uint32((c.next-1)*64+t))
		}
	default:
		k := min(limit-len(dst), len(s.list)-c.next)
		dst = append(dst, s.list[c.next:c.next+k]...)
		c.next += k
	}
	return dst
}

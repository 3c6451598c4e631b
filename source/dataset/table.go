package dataset

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"sync"
)

// table is one data type: its file, where each record lies in it, its ids,
// and the index of its fields. It does not change once loaded.
type table struct {
	name string
	file *os.File
	n    int
	// mapped is set when the slices below lie in a mapped index file, not
	// in the heap.
	mapped bool

	off  []int64  // where record i starts in the file
	size []uint32 // its length in bytes

	ids   []byte   // every id back to back, in record order
	idEnd []uint32 // idEnd[i] is where id i ends in ids
	byID  []uint32 // ordinals in id order

	fields []field // sorted by name

	// exemplars are records that together show every column (see Fields);
	// columns are computed from them on first use.
	exemplars   []uint32
	columnsOnce sync.Once
	columns     []string
	columnsErr  error
}

// field is the index of one dotted path.
type field struct {
	name   string
	tokens dict    // lowercased words of every value
	nums   numDict // numbers, and strings that are plain decimals

	// values holds every value normalized whole (text.Key), for enrichment
	// and string ranges. Few fields need it, and for most fields it is as
	// big as the rest of the index, so it is built on first use.
	valuesMu    sync.Mutex
	valuesBuilt bool
	values      dict
}

func (t *table) id(ord uint32) []byte {
	start := uint32(0)
	if ord > 0 {
		start = t.idEnd[ord-1]
	}
	return t.ids[start:t.idEnd[ord]]
}

// idLowerBound returns the first index of byID whose id is >= id.
func (t *table) idLowerBound(id []byte) int {
	return sort.Search(len(t.byID), func(k int) bool { return bytes.Compare(t.id(t.byID[k]), id) >= 0 })
}

// lookupID returns the ordinal of the record with this id.
func (t *table) lookupID(id []byte) (uint32, bool) {
	i := t.idLowerBound(id)
	if i < len(t.byID) && bytes.Equal(t.id(t.byID[i]), id) {
		return t.byID[i], true
	}
	return 0, false
}

// fieldsAt returns the fields a query path names: the path itself, and every
// path inside it when it names an object.
func (t *table) fieldsAt(path string) []*field {
	i := sort.Search(len(t.fields), func(k int) bool { return t.fields[k].name >= path })
	var out []*field
	if i < len(t.fields) && t.fields[i].name == path {
		out = append(out, &t.fields[i])
		i++
	}
	for ; i < len(t.fields) && strings.HasPrefix(t.fields[i].name, path); i++ {
		if strings.HasPrefix(t.fields[i].name[len(path):], ".") {
			out = append(out, &t.fields[i])
		}
	}
	return out
}

// field returns the field of exactly this path, or nil.
func (t *table) field(path string) *field {
	i := sort.Search(len(t.fields), func(k int) bool { return t.fields[k].name >= path })
	if i < len(t.fields) && t.fields[i].name == path {
		return &t.fields[i]
	}
	return nil
}

// indexBytes is the memory the table's index holds.
func (t *table) indexBytes() int {
	b := 8*cap(t.off) + 4*cap(t.size) + cap(t.ids) + 4*cap(t.idEnd) + 4*cap(t.byID)
	for i := range t.fields {
		f := &t.fields[i]
		b += len(f.name) + f.tokens.bytes() + f.nums.bytes()
		f.valuesMu.Lock()
		b += f.values.bytes()
		f.valuesMu.Unlock()
	}
	return b
}

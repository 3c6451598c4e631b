package dataset

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/creditrun/creditrun/source/internal/jsonscan"
	"github.com/creditrun/creditrun/source/internal/text"
)

// valuesOf returns the dictionary of the whole values of f, building it on
// the first call by reading the table's records once. Calls wait for a build
// in progress. A build stops with ctx.Err() when ctx ends; a build that
// failed or stopped starts over at the next call.
func (t *table) valuesOf(ctx context.Context, f *field) (*dict, error) {
	f.valuesMu.Lock()
	defer f.valuesMu.Unlock()
	if f.valuesBuilt {
		return &f.values, nil
	}
	var (
		b        dictBuilder
		key, str []byte
		ord      uint32
	)
	leaf := func(p []byte, kind jsonscan.Kind, val []byte, escaped, _ bool) {
		if !underPath(p, f.name) || len(p) != len(f.name) {
			return
		}
		key, str = valueKey(key[:0], str, kind, val, escaped)
		if len(key) > 0 {
			b.add(key, ord)
		}
	}
	r := reader{t: t}
	next := make([]uint32, 0, batchSize)
	for start := 0; start < t.n; start += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next = next[:0]
		for o := start; o < min(start+batchSize, t.n); o++ {
			next = append(next, uint32(o))
		}
		for i, o := range next {
			raw, err := r.raw(o, next[i+1:])
			if err != nil {
				return nil, fmt.Errorf("index the values of %s.%s: %w", t.name, f.name, err)
			}
			ord = o
			_ = jsonscan.Walk(raw, leaf)
		}
	}
	f.values = b.build()
	f.valuesBuilt = true
	return &f.values, nil
}

// valueKey appends the key of one leaf to dst: a string normalized whole, a
// number in its shortest decimal form normalized the same way, true or false.
// Null has no key. str is scratch, returned for reuse.
func valueKey(dst, str []byte, kind jsonscan.Kind, val []byte, escaped bool) ([]byte, []byte) {
	switch kind {
	case jsonscan.Null:
		return dst, str
	case jsonscan.String:
		if escaped {
			str = jsonscan.AppendUnquote(str[:0], val)
			val = str
		}
	case jsonscan.Number:
		if v, err := strconv.ParseFloat(string(val), 64); err == nil && !math.IsInf(v, 0) {
			str = strconv.AppendFloat(str[:0], v, 'f', -1, 64)
			val = str
		}
	}
	return text.AppendKey(dst, val), str
}

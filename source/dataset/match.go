package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/internal/text"
)

// Match implements source.Source.
func (d *Dataset) Match(ctx context.Context, dataType string, matchOn []string, items []source.Item) (source.MatchStream, error) {
	t, err := d.table(dataType)
	if err != nil {
		return nil, err
	}
	if len(matchOn) == 0 {
		return nil, fmt.Errorf("%w: no fields", source.ErrInvalidMatchOn)
	}
	for i, f := range matchOn {
		if strings.TrimSpace(f) == "" {
			return nil, fmt.Errorf("%w: field %d is empty", source.ErrInvalidMatchOn, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byID := len(matchOn) == 1 && matchOn[0] == "id"
	return func(yield func(source.Match, error) bool) {
		r := reader{t: t}
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				yield(source.Match{}, err)
				return
			}
			var (
				ord uint32
				ok  bool
				err error
			)
			if byID {
				ord, ok = t.matchID(it)
			} else if ord, ok, err = t.matchFields(ctx, matchOn, it); err != nil {
				yield(source.Match{}, err)
				return
			}
			m := source.Match{Index: i, Item: it, Matched: ok}
			if ok {
				rec, err := r.record(ord, nil)
				if err != nil {
					yield(source.Match{}, err)
					return
				}
				m.Record = rec
			}
			if !yield(m, nil) {
				return
			}
		}
	}, nil
}

// matchID finds the record whose id is the item's "id".
func (t *table) matchID(it source.Item) (uint32, bool) {
	for _, v := range it.Values("id") {
		s, ok := scalarText(v)
		if !ok {
			continue
		}
		if ord, ok := t.lookupID([]byte(strings.TrimSpace(s))); ok {
			return ord, true
		}
	}
	return 0, false
}

// matchFields finds the record with the lowest id whose every matchOn field
// has the item's value there (any of them, for an array), normalized.
func (t *table) matchFields(ctx context.Context, matchOn []string, it source.Item) (uint32, bool, error) {
	var cand *docSet
	var key []byte
	for _, path := range matchOn {
		set := listDocs(t.n, nil)
		switch f := t.field(path); {
		case path == "id":
			if ord, ok := t.matchID(it); ok {
				set = listDocs(t.n, []uint32{ord})
			}
		case f == nil:
			return 0, false, nil
		default:
			values, err := t.valuesOf(ctx, f)
			if err != nil {
				return 0, false, err
			}
			for _, v := range it.Values(path) {
				s, ok := scalarText(v)
				if !ok {
					continue
				}
				if key = text.AppendKey(key[:0], []byte(s)); len(key) == 0 {
					continue
				}
				set = union(set, listDocs(t.n, values.lookup(key)))
			}
		}
		if cand == nil {
			cand = set
		} else {
			cand = intersect(cand, set)
		}
		if cand.count() == 0 {
			return 0, false, nil
		}
	}
	best, found := uint32(0), false
	c := cursor{s: cand}
	batch := make([]uint32, 0, 256)
	for {
		batch = c.fill(batch[:0], cap(batch))
		if len(batch) == 0 {
			return best, found, nil
		}
		for _, o := range batch {
			if !found || bytes.Compare(t.id(o), t.id(best)) < 0 {
				best, found = o, true
			}
		}
	}
}

// scalarText is the text of a scalar item value as the index normalizes it:
// numbers in their shortest decimal form, as record numbers are.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return string(v), true
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

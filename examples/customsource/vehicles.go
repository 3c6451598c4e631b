package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

// vehicles is a source.Source of its own: one data type, "vehicles", held
// in memory. It evaluates the query language of package query by reading
// each record, which is fine for a few thousand records; a large source
// would keep an index, as package dataset does.
type vehicles struct {
	records []source.Record // in id order
}

var _ source.Source = (*vehicles)(nil)

// newVehicles returns the source on records, JSON objects with a string
// "id" each.
func newVehicles(records []map[string]any) (*vehicles, error) {
	v := &vehicles{}
	for _, r := range records {
		id, _ := r["id"].(string)
		if id == "" {
			return nil, fmt.Errorf("vehicle %v has no string id", r)
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("vehicle %s: %w", id, err)
		}
		v.records = append(v.records, source.Record{ID: id, Raw: raw})
	}
	slices.SortFunc(v.records, func(a, b source.Record) int { return strings.Compare(a.ID, b.ID) })
	return v, nil
}

// DataTypes implements source.Source.
func (v *vehicles) DataTypes() []string { return []string{"vehicles"} }

// QueryFields implements source.Source: the dotted paths of the records'
// values, objects and arrays of objects followed.
func (v *vehicles) QueryFields(dataType string) ([]string, error) {
	if err := v.check(dataType); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range v.records {
		var doc map[string]any
		if err := r.Decode(&doc); err != nil {
			return nil, fmt.Errorf("vehicle %s: %w", r.ID, err)
		}
		pathsOf(doc, "", seen)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// pathsOf adds the paths of the values under x, whose own path is prefix.
func pathsOf(x any, prefix string, seen map[string]bool) {
	switch x := x.(type) {
	case map[string]any:
		for k, e := range x {
			pathsOf(e, prefix+k+".", seen)
		}
	case []any:
		for _, e := range x {
			pathsOf(e, prefix, seen)
		}
	default:
		if p := strings.TrimSuffix(prefix, "."); p != "" {
			seen[p] = true
		}
	}
}

func (v *vehicles) check(dataType string) error {
	if dataType != "vehicles" {
		return source.UnknownDataType(dataType, v.DataTypes())
	}
	return nil
}

// Search implements source.Source.
func (v *vehicles) Search(ctx context.Context, dataType, q string, limit int) (source.Results, error) {
	if err := v.check(dataType); err != nil {
		return source.Results{}, err
	}
	n, err := query.Parse(q)
	if err != nil {
		return source.Results{}, err
	}
	if err := ctx.Err(); err != nil {
		return source.Results{}, err
	}
	var found []source.Record
	for _, r := range v.records {
		if matches(n, r) {
			found = append(found, r)
		}
	}
	stream := func(yield func(source.Record, error) bool) {
		for i, r := range found {
			if i >= limit {
				return
			}
			if err := ctx.Err(); err != nil {
				yield(source.Record{}, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
	return source.Results{Found: len(found), Records: stream}, nil
}

// Match implements source.Source: by id, or by the matchOn fields compared
// without case, the record with the lowest id winning.
func (v *vehicles) Match(ctx context.Context, dataType string, matchOn []string, items []source.Item) (source.MatchStream, error) {
	if err := v.check(dataType); err != nil {
		return nil, err
	}
	if len(matchOn) == 0 || slices.Contains(matchOn, "") {
		return nil, fmt.Errorf("%w: empty", source.ErrInvalidMatchOn)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return func(yield func(source.Match, error) bool) {
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				yield(source.Match{}, err)
				return
			}
			m := source.Match{Index: i, Item: it}
			for _, r := range v.records {
				if itemMatches(it, matchOn, r) {
					m.Matched, m.Record = true, r
					break
				}
			}
			if !yield(m, nil) {
				return
			}
		}
	}, nil
}

func itemMatches(it source.Item, matchOn []string, r source.Record) bool {
	for _, f := range matchOn {
		want, ok := it[f]
		if !ok || fmt.Sprint(want) == "" {
			return false
		}
		if f == "id" {
			if fmt.Sprint(want) != r.ID {
				return false
			}
			continue
		}
		if !slices.ContainsFunc(r.Values(f), func(v any) bool { return strings.EqualFold(fmt.Sprint(v), fmt.Sprint(want)) }) {
			return false
		}
	}
	return true
}

// matches evaluates a parsed query on one record: terms compare without
// case, a trailing * matches a prefix, ranges compare numbers.
func matches(n query.Node, r source.Record) bool {
	switch n := n.(type) {
	case *query.All:
		return true
	case *query.And:
		for _, c := range n.Clauses {
			if !matches(c, r) {
				return false
			}
		}
		return true
	case *query.Or:
		return slices.ContainsFunc(n.Clauses, func(c query.Node) bool { return matches(c, r) })
	case *query.Not:
		return !matches(n.Clause, r)
	case *query.Exists:
		return len(values(r, n.Field)) > 0
	case *query.Term:
		want := strings.ToLower(n.Value)
		return slices.ContainsFunc(values(r, n.Field), func(v string) bool {
			v = strings.ToLower(v)
			if n.Prefix {
				return strings.HasPrefix(v, want)
			}
			return v == want
		})
	case *query.Range:
		return slices.ContainsFunc(values(r, n.Field), func(v string) bool {
			x, err := strconv.ParseFloat(v, 64)
			return err == nil && above(x, n.Low) && below(x, n.High)
		})
	}
	return false
}

func values(r source.Record, field string) []string {
	if field == "id" {
		return []string{r.ID}
	}
	var out []string
	for _, v := range r.Values(field) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func above(x float64, b query.Bound) bool {
	lo, err := strconv.ParseFloat(b.Value, 64)
	return b.Unbounded || err == nil && (x > lo || b.Inclusive && x == lo)
}

func below(x float64, b query.Bound) bool {
	hi, err := strconv.ParseFloat(b.Value, 64)
	return b.Unbounded || err == nil && (x < hi || b.Inclusive && x == hi)
}

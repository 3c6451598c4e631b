package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

// itemRecordIDs returns, per item of an enrichment, the record id the
// reservation dedups it by, "" where unknown: the id an item names when it
// matches on id; on a pool that dedups, with a source, the record an item
// named by fields matches, as a worker matches it at run time (Source.Match);
// otherwise "" for each.
func (s *Service) itemRecordIDs(ctx context.Context, spec Spec, dedup bool) ([]string, error) {
	if !dedup || s.cfg.Source == nil || spec.matchesByID() {
		return spec.ItemRecordIDs(), nil
	}
	return s.matchItems(ctx, spec)
}

// matchesByID reports whether an enrichment's items name their records by
// id.
func (s *Spec) matchesByID() bool { return len(s.MatchOn) == 1 && s.MatchOn[0] == "id" }

// matchItems matches an enrichment's items against the source and returns,
// per item, the id of the record it matches, "" where none does. Returns a
// *FieldError when the source cannot match this data type or these fields,
// and any other error wrapped, as a failure of the infrastructure.
func (s *Service) matchItems(ctx context.Context, spec Spec) ([]string, error) {
	items := make([]source.Item, len(spec.Items))
	for i, it := range spec.Items {
		items[i] = it
	}
	stream, err := s.cfg.Source.Match(ctx, spec.DataType, spec.MatchOn, items)
	if err != nil {
		return nil, sourceError(spec, "match the items", err)
	}
	ids := make([]string, len(items))
	for m, err := range stream {
		if err != nil {
			return nil, sourceError(spec, "match the items", err)
		}
		if m.Matched && m.Index >= 0 && m.Index < len(ids) {
			ids[m.Index] = m.Record.ID
		}
	}
	return ids, nil
}

// countFound returns how many records a search or download's query
// matches, by the source's count: a search that streams none. Returns a
// *FieldError for a query the source refuses (its budget of work), and any
// other error wrapped.
func (s *Service) countFound(ctx context.Context, spec Spec) (int64, error) {
	res, err := s.cfg.Source.Search(ctx, spec.DataType, spec.Query, 0)
	if err != nil {
		return 0, sourceError(spec, "count the records", err)
	}
	return int64(res.Found), nil
}

// sourceError turns what the source refuses for this request into the
// *FieldError of the field at fault, and wraps anything else with what was
// being done.
func sourceError(spec Spec, doing string, err error) error {
	if be, ok := errors.AsType[*source.BudgetError](err); ok {
		return fieldErr("query", "needs more than %d steps of search (index entries and records examined), "+
			"the most one search may take; narrow it", be.Steps)
	}
	if se, ok := errors.AsType[*query.SyntaxError](err); ok {
		return fieldErr("query", "%s", se.Reason())
	}
	switch {
	case errors.Is(err, source.ErrUnknownDataType):
		return fieldErr("data_type", "unknown data type %q", spec.DataType)
	case errors.Is(err, source.ErrInvalidMatchOn):
		return fieldErr("match_on", "cannot be matched: %v", err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

package source

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// The data types of the sample dataset, the four that the generator of
// package dataset writes. A source offers the data types it has (see
// Source.DataTypes); these are only the sample's.
const (
	People     = "people"
	Properties = "properties"
	Businesses = "businesses"
	Products   = "products"
)

// DataTypes returns the data types of the sample dataset in a fixed order.
// A source's own are those of its DataTypes method.
func DataTypes() []string {
	return []string{People, Properties, Businesses, Products}
}

// ErrUnknownDataType is returned by Search and Match when the source serves no
// data type of that name. The error wraps it with the name (see
// UnknownDataType).
var ErrUnknownDataType = errors.New("unknown data type")

// UnknownDataType returns the error of a source asked for a data type it
// does not offer: it wraps ErrUnknownDataType and lists the ones it offers,
// sorted.
func UnknownDataType(dataType string, offered []string) error {
	return fmt.Errorf("%w %q: the source has %s", ErrUnknownDataType, dataType, strings.Join(Sorted(offered), ", "))
}

// Sorted returns a sorted copy of data types, the order in which messages
// list them.
func Sorted(dataTypes []string) []string {
	out := slices.Clone(dataTypes)
	slices.Sort(out)
	return out
}

// ValidDataTypeName reports whether name can be a data type: 1 to 64 lower
// case letters, digits, '_' or '-', the form of the names of a plans file.
// A dataset's file <name>.jsonl defines the data type name.
func ValidDataTypeName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ErrInvalidMatchOn is returned by Match when matchOn is empty or names an
// empty field. The error wraps it with the reason.
var ErrInvalidMatchOn = errors.New("invalid match_on")

// BudgetError is returned by Search when evaluating the query takes more
// work than the source allows one search: Steps, in the source's unit (for a
// dataset, index entries and records examined). The query would take as
// much on every retry; it has to be narrowed.
type BudgetError struct {
	// Steps is the budget the search went over.
	Steps int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the query needs more than %d steps of search", e.Steps)
}

// Source is what workers search and enrich against. Implementations are safe
// for concurrent use.
type Source interface {
	// DataTypes returns the data types the source offers, each a
	// ValidDataTypeName. The API and the jobs service accept requests for
	// these, and a plans file may name only these.
	DataTypes() []string

	// QueryFields returns the fields a query on dataType may name: the
	// dotted paths its records have values at, sorted ("id" among them). A
	// query may also name an object that holds some of them ("address" for
	// "address.city"). Field names are case-sensitive. Nil with a nil error
	// means the source does not say, and any field is accepted. It returns
	// an error wrapping ErrUnknownDataType for a data type it does not serve.
	QueryFields(dataType string) ([]string, error)

	// Search finds the records of dataType that match query (the language of
	// package query) and streams at most limit of them, in the source's
	// deterministic order (dataset order for a dataset). A limit of 0 or less
	// streams none; Results.Found is counted all the same.
	//
	// It returns an error wrapping ErrUnknownDataType for a data type it does
	// not serve, a *query.SyntaxError (with the byte position) for a malformed
	// query, a *BudgetError when evaluating the query takes more work than
	// the source allows one search, and ctx.Err() when ctx is done before
	// the search is evaluated.
	// Errors met while streaming, ctx.Err() among them, come out of the
	// stream.
	Search(ctx context.Context, dataType, query string, limit int) (Results, error)

	// Match finds, for each item in order, the record it matches, and streams
	// one Match per item, matched or not. With matchOn ["id"] an item matches
	// the record whose id equals the item's "id". Otherwise an item matches the
	// records whose fields named in matchOn (dotted paths) all equal the item's
	// values at the same paths, compared normalized: case, whitespace and
	// punctuation are ignored, and an array matches when any element does.
	// Among several such records it matches the one with the lowest id (in
	// byte order). An item that lacks a matchOn field, or whose value there is
	// empty, matches nothing.
	//
	// It returns an error wrapping ErrUnknownDataType for a data type it does
	// not serve, an error wrapping ErrInvalidMatchOn for an empty matchOn or
	// an empty field name in it, and ctx.Err() when ctx is already done.
	// Errors met while streaming, ctx.Err() among them, come out of the
	// stream.
	Match(ctx context.Context, dataType string, matchOn []string, items []Item) (MatchStream, error)
}

// Results is the answer to a Search.
type Results struct {
	// Found is the number of records that match the query. It may be more
	// than the limit.
	Found int

	// Records streams the matching records, at most the limit, in order. An
	// error ends the stream: it is yielded once with a zero Record, as the
	// last pair. The stream is meant to be ranged over once; stopping early is
	// fine and releases what it holds. It stops with ctx.Err() soon after the
	// search's ctx is done.
	Records RecordStream
}

// RecordStream yields records, or one final error.
type RecordStream = iter.Seq2[Record, error]

// MatchStream yields one Match per item in the order of the items, or one
// final error, under the same rules as Results.Records.
type MatchStream = iter.Seq2[Match, error]

// Match is the answer for one item of a Match call.
type Match struct {
	// Index is the position of the item in the items passed to Match.
	Index int
	// Item is the item itself.
	Item Item
	// Matched reports whether a record matched.
	Matched bool
	// Record is the matched record, the zero Record when Matched is false.
	Record Record
}

// Item is one item to enrich: a JSON object as decoded by encoding/json, with
// the fields to match on and anything else the customer sent (such as
// "tracking_id"), which the source ignores.
type Item map[string]any

// KnowsField reports whether a query may name field given the fields of a
// data type (Source.QueryFields): one of them, or an object that holds some
// of them.
func KnowsField(fields []string, field string) bool {
	for _, f := range fields {
		if f == field || (strings.HasPrefix(f, field) && strings.HasPrefix(f[len(field):], ".")) {
			return true
		}
	}
	return false
}

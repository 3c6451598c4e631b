package query

import (
	"fmt"

	"github.com/creditrun/creditrun/source/internal/text"
)

// The weights of Cost, in units of one posting list read from the index.
const (
	// CostWord is the cost of each word of a value: one posting list.
	CostWord = 1
	// CostOrder is added to a value of several words (a phrase, or an
	// unquoted value such as an email address that splits into several):
	// checking the order of the words reads the records that have them all.
	CostOrder = 8
	// CostPrefix is added to a value ending in *: its last word reads the
	// posting lists of every word that starts with it.
	CostPrefix = 4
	// CostExists is the cost of field:*, which reads every posting list of
	// the field.
	CostExists = 2
	// CostRange is the cost of a range, a slice of the field's numbers or of
	// its whole values.
	CostRange = 4
	// CostOp is the cost of one set operation: each NOT, and each clause of
	// an AND or an OR, which combines its records with the others'. It is
	// also the cost of *, which matches everything.
	CostOp = 1
)

// MaxCost is the most a query may cost (see Cost). It admits every query of
// MaxClauses single words, prefixes or ranges, negated or not, and a few
// hundred phrases; 1,000 phrases are over it.
const MaxCost = 8192

// Cost is the work a query implies, counted from its tree alone, before any
// record is looked at: CostWord for each word of a value (a record id, which
// matches as written, is one word), CostOrder more for a value of several
// words, CostPrefix more for a prefix, CostExists for
// field:*, CostRange for a range, and CostOp for *, for each NOT and for each
// clause of an AND or an OR. Nesting costs what its groups' clauses cost.
//
// It is monotone: a query never costs less than any of its parts, and adding
// a clause or a NOT always costs more. It never panics on a tree that Parse
// returned, and it stays within a small multiple of the query's length, so it
// cannot overflow.
func Cost(n Node) int {
	switch n := n.(type) {
	case *All:
		return CostOp
	case *Term:
		words := 1 // an id matches as written, one lookup
		if n.Field != "id" {
			words = 0
			text.AppendTokens(nil, []byte(n.Value), func([]byte) { words++ })
		}
		c := CostWord * max(words, 1)
		if words > 1 {
			c += CostOrder
		}
		if n.Prefix {
			c += CostPrefix
		}
		return c
	case *Exists:
		return CostExists
	case *Range:
		return CostRange
	case *Not:
		return CostOp + Cost(n.Clause)
	case *And:
		return groupCost(n.Clauses)
	case *Or:
		return groupCost(n.Clauses)
	}
	return CostOp // a node of another package: one operation
}

func groupCost(clauses []Node) int {
	c := 0
	for _, cl := range clauses {
		c += CostOp + Cost(cl)
	}
	return c
}

// CostError is a query that costs more than MaxCost. The API answers it with
// 400 invalid_request on the field "query".
type CostError struct {
	// Cost is what the query costs (see Cost).
	Cost int
}

func (e *CostError) Error() string { return "the query " + e.Reason() }

// Reason says what is wrong, and what is allowed, after the words "the
// query" (or the name of the field that holds it): "costs 11257, more than
// the 8192 a query may cost (…): use fewer …".
func (e *CostError) Reason() string {
	return fmt.Sprintf("costs %d, more than the %d a query may cost "+
		"(each word counts %d, a phrase or a value of several words %d more, a prefix %d more, "+
		"field:* %d, a range %d, each NOT and each clause of an AND or an OR %d): "+
		"use fewer phrases or clauses, or split it into several jobs",
		e.Cost, MaxCost, CostWord, CostOrder, CostPrefix, CostExists, CostRange, CostOp)
}

// CheckCost returns a *CostError when n costs more than MaxCost, and nil
// otherwise.
func CheckCost(n Node) error {
	if c := Cost(n); c > MaxCost {
		return &CostError{Cost: c}
	}
	return nil
}

package dataset

import (
	"github.com/creditrun/creditrun/source"
)

// The work budget of one search: evaluating a query counts steps, and a
// search that takes more than its budget stops with a *source.BudgetError.
// Steps are counted, not timed, so a query takes the same steps on every
// run, on any machine, however loaded: the budget is deterministic. They
// stand for work of about the same cost each:
//
//   - every record ordinal that a set operation (AND, OR, NOT, the words of
//     a value) takes in, 64 of them for a set kept as a bitmap (one word);
//   - every ordinal gathered from the index into a new set (a prefix, a
//     range, field:*);
//   - RecordSteps for every record read from the file to check the order of
//     a phrase's words, which costs about as much as that many ordinals.
//
// Streaming the records a search delivers is not counted: credits pay for
// those.
const (
	// DefaultMaxSearchSteps is the budget of one search unless
	// Options.MaxSearchSteps says otherwise: some 30 s of one core of a
	// small server (set operations run at a few hundred million ordinals a
	// second, and a record is read and checked in one to four
	// microseconds). It is ten million records read to check phrases, or
	// several phrases of common words on ten million records.
	DefaultMaxSearchSteps = 10_000_000_000
	// RecordSteps is what reading one record to check a phrase counts:
	// about what a set operation does with that many ordinals meanwhile.
	RecordSteps = 1024
)

// budget counts the steps of one search.
type budget struct {
	max  int64 // 0: no limit
	used int64
}

func (b *budget) spend(n int) { b.used += int64(n) }

// check returns a *source.BudgetError once the steps spent are over the
// budget.
func (b *budget) check() error {
	if b.max > 0 && b.used > b.max {
		return &source.BudgetError{Steps: b.max}
	}
	return nil
}

// setSteps is what a set operation counts for taking s in.
func setSteps(s *docSet) int {
	switch {
	case s.all:
		return 0
	case s.bits != nil:
		return len(s.bits)
	}
	return len(s.list)
}

func (e *evaluator) intersect(a, b *docSet) *docSet {
	if !a.all && !b.all {
		e.b.spend(setSteps(a) + setSteps(b))
	}
	return intersect(a, b)
}

func (e *evaluator) union(a, b *docSet) *docSet {
	e.b.spend(setSteps(a) + setSteps(b))
	return union(a, b)
}

func (e *evaluator) subtract(a, b *docSet) *docSet {
	e.b.spend(setSteps(a) + setSteps(b))
	return subtract(a, b)
}

func (e *evaluator) fromUnsorted(ords []uint32) *docSet {
	e.b.spend(len(ords))
	return fromUnsorted(e.t.n, ords)
}

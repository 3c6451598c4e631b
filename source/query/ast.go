package query

import (
	"strings"
)

// Node is a parsed query: *All, *Term, *Exists, *Range, *Not, *And or *Or.
// Its String form is the query written canonically (every AND and OR group
// in parentheses), which parses back to the same tree.
type Node interface {
	// Pos is the byte offset in the query where the node starts.
	Pos() int
	String() string
	node()
}

// All matches every record: the empty query, "*" and "*:*".
type All struct {
	At int
}

// Term matches records whose Field has the words of Value: one word
// (city:Austin), or several in that order (a Phrase, or an unquoted value that
// splits into several words, such as email:jo.smith@example.com). With Prefix
// the last word only has to start with the value's last word (name:jo*).
type Term struct {
	At     int
	Field  string // a dotted path
	Value  string // as written, escapes removed
	Phrase bool   // written in double quotes
	Prefix bool   // written with a trailing *
}

// Exists matches records whose Field exists and is not empty (field:*).
type Exists struct {
	At    int
	Field string
}

// Range matches records with a value of Field between Low and High:
// field:[a TO b] (inclusive), field:{a TO b} (exclusive), or mixed.
type Range struct {
	At        int
	Field     string
	Low, High Bound
}

// Bound is one end of a Range.
type Bound struct {
	Value     string
	Inclusive bool // [ or ]
	Unbounded bool // written *: no limit on this side
}

// Not matches the records that Clause does not (NOT a, -a).
type Not struct {
	At     int
	Clause Node
}

// And matches the records that every clause matches (a AND b, a b).
type And struct {
	At      int
	Clauses []Node
}

// Or matches the records that any clause matches (a OR b).
type Or struct {
	At      int
	Clauses []Node
}

// Pos returns At.
func (n *All) Pos() int { return n.At }

// Pos returns At, where the field name starts.
func (n *Term) Pos() int { return n.At }

// Pos returns At, where the field name starts.
func (n *Exists) Pos() int { return n.At }

// Pos returns At, where the field name starts.
func (n *Range) Pos() int { return n.At }

// Pos returns At, where NOT or - stands.
func (n *Not) Pos() int { return n.At }

// Pos returns At, where the first clause starts.
func (n *And) Pos() int { return n.At }

// Pos returns At, where the first clause starts.
func (n *Or) Pos() int { return n.At }

func (*All) node()    {}
func (*Term) node()   {}
func (*Exists) node() {}
func (*Range) node()  {}
func (*Not) node()    {}
func (*And) node()    {}
func (*Or) node()     {}

func (n *All) String() string { return "*" }

func (n *Term) String() string {
	var b strings.Builder
	writeEscaped(&b, n.Field, true)
	b.WriteByte(':')
	if n.Phrase {
		writeQuoted(&b, n.Value)
		return b.String()
	}
	writeEscaped(&b, n.Value, false)
	if n.Prefix {
		b.WriteByte('*')
	}
	return b.String()
}

func (n *Exists) String() string {
	var b strings.Builder
	writeEscaped(&b, n.Field, true)
	b.WriteString(":*")
	return b.String()
}

func (n *Range) String() string {
	var b strings.Builder
	writeEscaped(&b, n.Field, true)
	b.WriteByte(':')
	if n.Low.Inclusive {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	writeBound(&b, n.Low)
	b.WriteString(" TO ")
	writeBound(&b, n.High)
	if n.High.Inclusive {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.String()
}

func (n *Not) String() string { return "NOT " + n.Clause.String() }

func (n *And) String() string { return group(n.Clauses, " AND ") }

func (n *Or) String() string { return group(n.Clauses, " OR ") }

func group(clauses []Node, op string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range clauses {
		if i > 0 {
			b.WriteString(op)
		}
		b.WriteString(c.String())
	}
	b.WriteByte(')')
	return b.String()
}

// writeEscaped writes a field name or an unquoted value with a backslash
// before every character the lexer would otherwise take as syntax.
func writeEscaped(b *strings.Builder, s string, field bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpecial(c) || field && i == 0 && (c == '-' || c == '+') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

func writeBound(b *strings.Builder, bd Bound) {
	if bd.Unbounded {
		b.WriteByte('*')
		return
	}
	if bd.Value == "" || bd.Value == "*" || bd.Value == "TO" || bd.Value[0] == '"' || strings.ContainsAny(bd.Value, " \t\n\r\f\v]}\\") {
		writeQuoted(b, bd.Value)
		return
	}
	b.WriteString(bd.Value)
}

package query

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/creditrun/creditrun/source/internal/text"
)

// Limits on what one query may hold, so that no query costs without bound.
const (
	// MaxDepth is how deeply parentheses and NOT may nest.
	MaxDepth = 64
	// MaxClauses is how many field clauses one query may hold (Lucene's
	// default limit too).
	MaxClauses = 1024
)

// SyntaxError is a malformed query. The API answers it with 400
// invalid_request on the field "query".
type SyntaxError struct {
	// Pos is the byte offset in the query where the error is, from 0. At the
	// end of the query it is the query's length.
	Pos int
	// Msg says what is wrong there.
	Msg string
}

func (e *SyntaxError) Error() string { return "query " + e.Reason() }

// Reason says what is wrong and where, after the words "query" (or the name
// of the field that holds the query): "syntax error at position 5: …".
func (e *SyntaxError) Reason() string {
	return fmt.Sprintf("syntax error at position %d: %s", e.Pos, e.Msg)
}

// Parse parses a query of the language in API.md:
//
//	field:value             the field has the word value (case-insensitive)
//	field:"a phrase"        the field has these words in this order
//	field:val*              the field has a word starting with val
//	field:*                 the field exists and is not empty
//	field:[a TO b]          a value from a to b, inclusive ({a TO b}: exclusive;
//	                        [a TO b} and * for an open end work too)
//	a AND b, a OR b, a b    AND binds tighter than OR; a b means a AND b
//	NOT a, -a, +a, ( … )
//	brokers.agent:x         dotted paths reach into objects and arrays
//
// The empty query and * (or *:*) match everything. Operators are upper case.
// A backslash escapes the next character in a field name or value. It
// returns a *SyntaxError for a malformed query.
func Parse(q string) (Node, error) {
	p := parser{s: q}
	p.skipSpace()
	if p.i == len(q) {
		return &All{At: 0}, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(q) { // only a ')' stops p.or before the end
		return nil, p.errorf(p.i, "unmatched ')'")
	}
	return n, nil
}

type parser struct {
	s       string
	i       int
	depth   int
	clauses int
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// isSpecial reports whether c ends or breaks an unquoted field name or value
// (and so must be escaped in one).
func isSpecial(c byte) bool {
	return isSpace(c) || strings.IndexByte(`()[]{}":^~*?\`, c) >= 0
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// keyword reports whether the operator kw stands at p.i as a word of its own.
func (p *parser) keyword(kw string) bool {
	if !strings.HasPrefix(p.s[p.i:], kw) {
		return false
	}
	j := p.i + len(kw)
	return j == len(p.s) || isSpace(p.s[j]) || p.s[j] == '(' || p.s[j] == ')' || p.s[j] == '"'
}

// delimited reports whether position j ends a value: the end, a space or a
// parenthesis.
func (p *parser) delimited(j int) bool {
	return j == len(p.s) || isSpace(p.s[j]) || p.s[j] == '(' || p.s[j] == ')'
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(pos, "query nests deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) leaf(pos int) error {
	p.clauses++
	if p.clauses > MaxClauses {
		return p.errorf(pos, "query has more than %d clauses", MaxClauses)
	}
	return nil
}

// or parses: and { OR and }.
func (p *parser) or() (Node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	clauses := []Node{first}
	for {
		p.skipSpace()
		if p.i == len(p.s) || !p.keyword("OR") {
			break
		}
		p.i += len("OR")
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, n)
	}
	if len(clauses) == 1 {
		return first, nil
	}
	return &Or{At: first.Pos(), Clauses: flatten[*Or](clauses)}, nil
}

// and parses: unary { [AND] unary }.
func (p *parser) and() (Node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	clauses := []Node{first}
	for {
		p.skipSpace()
		if p.i == len(p.s) || p.s[p.i] == ')' || p.keyword("OR") {
			break
		}
		if p.keyword("AND") {
			p.i += len("AND")
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, n)
	}
	if len(clauses) == 1 {
		return first, nil
	}
	return &And{At: first.Pos(), Clauses: flatten[*And](clauses)}, nil
}

// flatten splices the clauses of nested groups of the same operator, which
// parentheses leave, into one list.
func flatten[T interface{ *And | *Or }](clauses []Node) []Node {
	out := make([]Node, 0, len(clauses))
	for _, c := range clauses {
		switch g := any(c).(type) {
		case T:
			switch g := any(g).(type) {
			case *And:
				out = append(out, g.Clauses...)
			case *Or:
				out = append(out, g.Clauses...)
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// unary parses: NOT unary | -unary | +unary | primary.
func (p *parser) unary() (Node, error) {
	p.skipSpace()
	start := p.i
	if p.i == len(p.s) {
		return nil, p.errorf(p.i, "expected a clause, found the end of the query")
	}
	switch c := p.s[p.i]; {
	case p.keyword("NOT"):
		p.i += len("NOT")
		return p.negate(start)
	case c == '-' || c == '+':
		p.i++
		if p.i == len(p.s) || isSpace(p.s[p.i]) {
			return nil, p.errorf(start, "expected a clause right after '%c'", c)
		}
		if c == '+' {
			if err := p.enter(start); err != nil {
				return nil, err
			}
			n, err := p.unary()
			p.depth--
			return n, err
		}
		return p.negate(start)
	}
	return p.primary()
}

func (p *parser) negate(start int) (Node, error) {
	if err := p.enter(start); err != nil {
		return nil, err
	}
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &Not{At: start, Clause: n}, nil
}

func (p *parser) primary() (Node, error) {
	start := p.i
	switch c := p.s[p.i]; {
	case c == '(':
		if err := p.enter(start); err != nil {
			return nil, err
		}
		p.i++
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ')' {
			return nil, p.errorf(start, "empty parentheses")
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i == len(p.s) {
			return nil, p.errorf(p.i, "missing ')' to close the '(' at position %d", start)
		}
		p.i++ // ')'
		p.depth--
		return n, nil
	case c == ')':
		return nil, p.errorf(start, "unexpected ')'")
	case c == '*':
		switch {
		case strings.HasPrefix(p.s[p.i:], "*:*") && p.delimited(p.i+3):
			p.i += 3
		case p.delimited(p.i + 1):
			p.i++
		default:
			return nil, p.errorf(start, "'*' alone matches everything; a wildcard needs a field, as in name:jo*")
		}
		if err := p.leaf(start); err != nil {
			return nil, err
		}
		return &All{At: start}, nil
	case c == '"':
		return nil, p.errorf(start, `a phrase needs a field, as in name:"john smith"`)
	case c == '[' || c == '{':
		return nil, p.errorf(start, "a range needs a field, as in price:[100 TO 200]")
	case p.keyword("AND"):
		return nil, p.errorf(start, "expected a clause before AND")
	case p.keyword("OR"):
		return nil, p.errorf(start, "expected a clause before OR")
	}
	field, err := p.word()
	if err != nil {
		return nil, err
	}
	if field == "" {
		return nil, p.unexpected()
	}
	if p.i == len(p.s) || p.s[p.i] != ':' {
		j := p.i
		for j < len(p.s) && (p.s[j] == '*' || p.s[j] == '?' || !isSpecial(p.s[j]) && p.s[j] != ':') {
			j++
		}
		switch w := strings.ToUpper(field); {
		case j > p.i && j < len(p.s) && p.s[j] == ':':
			return nil, p.errorf(p.i, "wildcards are not supported in field names")
		case w == "AND" || w == "OR" || w == "NOT":
			return nil, p.errorf(start, "operators are upper case: write %s", w)
		}
		return nil, p.errorf(p.i, "expected ':' after %q: every value needs a field, as in city:Austin", field)
	}
	p.i++ // ':'
	spaced := p.i < len(p.s) && isSpace(p.s[p.i])
	p.skipSpace()
	if spaced && (p.keyword("AND") || p.keyword("OR") || p.keyword("NOT")) {
		return nil, p.errorf(p.i, "expected a value after %q", field+":")
	}
	return p.value(start, field)
}

// unexpected reports the character at p.i.
func (p *parser) unexpected() error {
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	switch r {
	case '^':
		return p.errorf(p.i, "boosts ('^') are not supported")
	case '~':
		return p.errorf(p.i, "fuzzy and proximity searches ('~') are not supported")
	case '?':
		return p.errorf(p.i, "'?' wildcards are not supported")
	}
	return p.errorf(p.i, "unexpected %q", r)
}

// word reads an unquoted field name or value up to a special character,
// removing escapes.
func (p *parser) word() (string, error) {
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' {
			if p.i+1 == len(p.s) {
				return "", p.errorf(p.i, "a '\\' at the end of the query escapes nothing")
			}
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			b.WriteString(p.s[p.i+1 : p.i+1+n])
			p.i += 1 + n
			continue
		}
		if isSpecial(c) || c == ':' {
			break
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String(), nil
}

// value parses what follows field: at p.i.
func (p *parser) value(start int, field string) (Node, error) {
	if err := p.leaf(start); err != nil {
		return nil, err
	}
	if p.i == len(p.s) {
		return nil, p.errorf(p.i, "expected a value after %q", field+":")
	}
	vpos := p.i
	switch p.s[p.i] {
	case '"':
		v, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if p.i < len(p.s) && p.s[p.i] == '*' {
			return nil, p.errorf(p.i, "a phrase cannot end with '*'")
		}
		if err := p.hasWords(vpos, v); err != nil {
			return nil, err
		}
		return &Term{At: start, Field: field, Value: v, Phrase: true}, nil
	case '[', '{':
		return p.rangeValue(start, field)
	case '(':
		return nil, p.errorf(p.i, "a group after a field is not supported: write (%s:a OR %s:b)", field, field)
	case '*':
		if p.delimited(p.i + 1) {
			p.i++
			return &Exists{At: start, Field: field}, nil
		}
		return nil, p.errorf(p.i, "a value cannot start with '*'")
	}
	v, err := p.word()
	if err != nil {
		return nil, err
	}
	prefix := false
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '*':
			if !p.delimited(p.i + 1) {
				return nil, p.errorf(p.i, "'*' is only supported at the end of a value")
			}
			p.i++
			prefix = true
		case ':':
			return nil, p.errorf(p.i, "unexpected ':' in a value (escape it as \\: or quote the value)")
		}
	}
	if v == "" {
		if p.i < len(p.s) && !p.delimited(p.i) {
			return nil, p.unexpected()
		}
		return nil, p.errorf(vpos, "expected a value after %q", field+":")
	}
	if p.i < len(p.s) && !p.delimited(p.i) {
		return nil, p.unexpected()
	}
	if err := p.hasWords(vpos, v); err != nil {
		return nil, err
	}
	return &Term{At: start, Field: field, Value: v, Prefix: prefix}, nil
}

func (p *parser) hasWords(pos int, v string) error {
	found := false
	text.AppendTokens(nil, []byte(v), func([]byte) { found = true })
	if !found {
		return p.errorf(pos, "the value %q has no letters or digits", v)
	}
	return nil
}

// quoted reads a double-quoted string at p.i, removing escapes.
func (p *parser) quoted() (string, error) {
	open := p.i
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 == len(p.s) {
				p.i++
				continue
			}
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			b.WriteString(p.s[p.i+1 : p.i+1+n])
			p.i += 1 + n
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errorf(open, "unterminated phrase: the '\"' at position %d has no closing '\"'", open)
}

// rangeValue parses [low TO high] with either bracket at either end.
func (p *parser) rangeValue(start int, field string) (Node, error) {
	open := p.i
	r := &Range{At: start, Field: field}
	r.Low.Inclusive = p.s[p.i] == '['
	p.i++
	p.skipSpace()
	var err error
	if r.Low, err = p.bound(r.Low, "a lower bound"); err != nil {
		return nil, err
	}
	p.skipSpace()
	if !strings.HasPrefix(p.s[p.i:], "TO") || p.i+2 == len(p.s) || !isSpace(p.s[p.i+2]) {
		if strings.HasPrefix(p.s[p.i:], "TO") && p.i+2 < len(p.s) && (p.s[p.i+2] == ']' || p.s[p.i+2] == '}') {
			return nil, p.errorf(p.i+2, "expected an upper bound after TO")
		}
		if p.i == len(p.s) {
			return nil, p.errorf(p.i, "unterminated range: expected TO")
		}
		return nil, p.errorf(p.i, "expected TO in the range opened at position %d", open)
	}
	p.i += 2
	p.skipSpace()
	if r.High, err = p.bound(r.High, "an upper bound"); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i == len(p.s) {
		return nil, p.errorf(p.i, "unterminated range: expected ']' or '}' to close the range opened at position %d", open)
	}
	switch p.s[p.i] {
	case ']':
		r.High.Inclusive = true
	case '}':
	default:
		return nil, p.errorf(p.i, "expected ']' or '}' to close the range opened at position %d", open)
	}
	p.i++
	if !p.delimited(p.i) {
		return nil, p.unexpected()
	}
	return r, nil
}

// bound reads one end of a range: *, a quoted string, or a run of characters
// up to a space, ']' or '}'.
func (p *parser) bound(b Bound, what string) (Bound, error) {
	if p.i == len(p.s) {
		return b, p.errorf(p.i, "unterminated range: expected %s", what)
	}
	switch p.s[p.i] {
	case '"':
		v, err := p.quoted()
		if err != nil {
			return b, err
		}
		b.Value = v
		return b, nil
	case '*':
		if j := p.i + 1; j == len(p.s) || isSpace(p.s[j]) || p.s[j] == ']' || p.s[j] == '}' {
			p.i++
			b.Unbounded = true
			return b, nil
		}
	case ']', '}':
		return b, p.errorf(p.i, "expected %s before '%c'", what, p.s[p.i])
	case 'T':
		if strings.HasPrefix(p.s[p.i:], "TO") && (p.i+2 == len(p.s) || isSpace(p.s[p.i+2])) {
			return b, p.errorf(p.i, "expected %s before TO", what)
		}
	}
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isSpace(c) || c == ']' || c == '}' {
			break
		}
		if c == '\\' && p.i+1 < len(p.s) {
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			sb.WriteString(p.s[p.i+1 : p.i+1+n])
			p.i += 1 + n
			continue
		}
		sb.WriteByte(c)
		p.i++
	}
	b.Value = sb.String()
	return b, nil
}

// Package jsonscan walks the leaves of a JSON object in one pass, without
// decoding it, so that loading a dataset of millions of records stays fast.
// It accepts exactly what encoding/json accepts (the fuzz test holds it to
// that).
package jsonscan

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Kind is the kind of a leaf.
type Kind uint8

// The kinds of leaves.
const (
	String Kind = iota
	Number
	True
	False
	Null
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// SyntaxError describes malformed JSON.
type SyntaxError struct {
	Offset int // byte offset of the error in the document
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// LeafFunc receives a leaf: its dotted path of object keys (array indexes
// are left out, so every element of an array has its array's path), its
// kind, and its text, and whether an array encloses it. For a String the text is what stands between the
// quotes, still escaped when escaped is true (see AppendUnquote), and may
// hold invalid UTF-8 as the document does. The path and the text are only
// valid during the call.
type LeafFunc func(path []byte, kind Kind, text []byte, escaped, inArray bool)

// Walk checks that doc is one JSON object (surrounding whitespace allowed)
// and calls fn for every scalar in it, in document order. Empty arrays and
// objects have no leaves. It returns a *SyntaxError when doc is not valid
// JSON or is not an object.
func Walk(doc []byte, fn LeafFunc) error {
	w := walker{doc: doc, fn: fn}
	w.skipSpace()
	if w.i >= len(doc) {
		return w.fail("empty document")
	}
	if doc[w.i] != '{' {
		if err := w.value(0); err != nil {
			return err
		}
		return &SyntaxError{Offset: 0, Msg: "not an object"}
	}
	if err := w.value(0); err != nil {
		return err
	}
	w.skipSpace()
	if w.i < len(doc) {
		return w.fail(fmt.Sprintf("invalid character %s after top-level value", quoteChar(doc[w.i])))
	}
	return nil
}

type walker struct {
	doc    []byte
	i      int
	path   []byte
	fn     LeafFunc
	key    []byte // scratch for unescaped keys
	arrays int    // arrays enclosing the current value
}

func (w *walker) fail(msg string) error {
	return &SyntaxError{Offset: w.i, Msg: msg}
}

func (w *walker) unexpected(where string) error {
	if w.i >= len(w.doc) {
		return w.fail("unexpected end of JSON " + where)
	}
	return w.fail(fmt.Sprintf("invalid character %s %s", quoteChar(w.doc[w.i]), where))
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c < 0x20 || c >= utf8.RuneSelf {
		return fmt.Sprintf("0x%02x", c)
	}
	return "'" + string(c) + "'"
}

func (w *walker) skipSpace() {
	for w.i < len(w.doc) {
		switch w.doc[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value reads one value at w.i (whitespace already skipped).
func (w *walker) value(depth int) error {
	if w.i >= len(w.doc) {
		return w.unexpected("looking for beginning of value")
	}
	switch c := w.doc[w.i]; {
	case c == '{':
		return w.object(depth + 1)
	case c == '[':
		return w.array(depth + 1)
	case c == '"':
		start := w.i + 1
		escaped, err := w.str()
		if err != nil {
			return err
		}
		if w.fn != nil {
			w.fn(w.path, String, w.doc[start:w.i-1], escaped, w.arrays > 0)
		}
		return nil
	case c == '-' || '0' <= c && c <= '9':
		start := w.i
		if err := w.number(); err != nil {
			return err
		}
		if w.fn != nil {
			w.fn(w.path, Number, w.doc[start:w.i], false, w.arrays > 0)
		}
		return nil
	case c == 't':
		return w.literal("true", True)
	case c == 'f':
		return w.literal("false", False)
	case c == 'n':
		return w.literal("null", Null)
	}
	return w.unexpected("looking for beginning of value")
}

func (w *walker) literal(lit string, kind Kind) error {
	start := w.i
	for j := 0; j < len(lit); j++ {
		if w.i >= len(w.doc) || w.doc[w.i] != lit[j] {
			return w.unexpected("in literal " + lit)
		}
		w.i++
	}
	if w.fn != nil {
		w.fn(w.path, kind, w.doc[start:w.i], false, w.arrays > 0)
	}
	return nil
}

func (w *walker) object(depth int) error {
	if depth > maxDepth {
		return w.fail("exceeded max depth")
	}
	w.i++ // '{'
	w.skipSpace()
	if w.i < len(w.doc) && w.doc[w.i] == '}' {
		w.i++
		return nil
	}
	base := len(w.path)
	for {
		if w.i >= len(w.doc) || w.doc[w.i] != '"' {
			return w.unexpected("looking for beginning of object key string")
		}
		start := w.i + 1
		escaped, err := w.str()
		if err != nil {
			return err
		}
		key := w.doc[start : w.i-1]
		if escaped {
			w.key = AppendUnquote(w.key[:0], key)
			key = w.key
		}
		if base > 0 {
			w.path = append(w.path, '.')
		}
		w.path = append(w.path, key...)
		w.skipSpace()
		if w.i >= len(w.doc) || w.doc[w.i] != ':' {
			return w.unexpected("after object key")
		}
		w.i++
		w.skipSpace()
		if err := w.value(depth); err != nil {
			return err
		}
		w.path = w.path[:base]
		w.skipSpace()
		if w.i >= len(w.doc) {
			return w.unexpected("after object key:value pair")
		}
		switch w.doc[w.i] {
		case ',':
			w.i++
			w.skipSpace()
		case '}':
			w.i++
			return nil
		default:
			return w.unexpected("after object key:value pair")
		}
	}
}

func (w *walker) array(depth int) error {
	if depth > maxDepth {
		return w.fail("exceeded max depth")
	}
	w.i++ // '['
	w.skipSpace()
	if w.i < len(w.doc) && w.doc[w.i] == ']' {
		w.i++
		return nil
	}
	w.arrays++
	defer func() { w.arrays-- }()
	for {
		if err := w.value(depth); err != nil {
			return err
		}
		w.skipSpace()
		if w.i >= len(w.doc) {
			return w.unexpected("after array element")
		}
		switch w.doc[w.i] {
		case ',':
			w.i++
			w.skipSpace()
		case ']':
			w.i++
			return nil
		default:
			return w.unexpected("after array element")
		}
	}
}

// str reads a string at w.i (the opening quote) and leaves w.i after the
// closing quote. It reports whether the string has escapes.
func (w *walker) str() (escaped bool, err error) {
	w.i++
	for w.i < len(w.doc) {
		c := w.doc[w.i]
		switch {
		case c == '"':
			w.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			w.i++
			if w.i >= len(w.doc) {
				return escaped, w.unexpected("in string escape code")
			}
			switch w.doc[w.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				w.i++
			case 'u':
				w.i++
				for range 4 {
					if w.i >= len(w.doc) || !isHex(w.doc[w.i]) {
						return escaped, w.unexpected(`in \u hexadecimal character escape`)
					}
					w.i++
				}
			default:
				return escaped, w.unexpected("in string escape code")
			}
		case c < 0x20:
			return escaped, w.unexpected("in string literal")
		default:
			w.i++
		}
	}
	return escaped, w.unexpected("in string literal")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (w *walker) number() error {
	if w.doc[w.i] == '-' {
		w.i++
	}
	switch {
	case w.i < len(w.doc) && w.doc[w.i] == '0':
		w.i++
	case w.i < len(w.doc) && isDigit(w.doc[w.i]):
		for w.i < len(w.doc) && isDigit(w.doc[w.i]) {
			w.i++
		}
	default:
		return w.unexpected("in numeric literal")
	}
	if w.i < len(w.doc) && w.doc[w.i] == '.' {
		w.i++
		if w.i >= len(w.doc) || !isDigit(w.doc[w.i]) {
			return w.unexpected("after decimal point in numeric literal")
		}
		for w.i < len(w.doc) && isDigit(w.doc[w.i]) {
			w.i++
		}
	}
	if w.i < len(w.doc) && (w.doc[w.i] == 'e' || w.doc[w.i] == 'E') {
		w.i++
		if w.i < len(w.doc) && (w.doc[w.i] == '+' || w.doc[w.i] == '-') {
			w.i++
		}
		if w.i >= len(w.doc) || !isDigit(w.doc[w.i]) {
			return w.unexpected("in exponent of numeric literal")
		}
		for w.i < len(w.doc) && isDigit(w.doc[w.i]) {
			w.i++
		}
	}
	return nil
}

// AppendUnquote appends the decoded form of s, the text between the quotes
// of a valid JSON string, to dst, as encoding/json decodes it (invalid UTF-8
// and lone surrogates become U+FFFD).
func AppendUnquote(dst, s []byte) []byte {
	var str string
	q := make([]byte, 0, len(s)+2)
	q = append(q, '"')
	q = append(q, s...)
	q = append(q, '"')
	if err := json.Unmarshal(q, &str); err != nil {
		return append(dst, s...)
	}
	return append(dst, str...)
}

package worker

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// fieldSink receives the fields of a record from a flattener.
type fieldSink interface {
	// field receives the dotted path and the CSV cell of one field: a
	// string's decoded text, an array, a number or a boolean as written, nil
	// for null. Both are only valid during the call.
	field(path, cell []byte)
	// drop forgets what field gave at path and under it: the key occurs
	// again in its object, and as in encoding/json the last one wins.
	drop(path []byte)
}

// errBadRecord is wrapped by the errors of a record that is not a JSON
// object. Records come validated from the dataset, so it means a bug.
var errBadRecord = errors.New("flatten record: invalid JSON")

// maxDepth is encoding/json's nesting limit, which the dataset's loader
// holds records to.
const maxDepth = 10000

// flattener walks a record's JSON object in one pass over its bytes and
// hands each field to a fieldSink, in document order: objects are followed
// ("address.city"), anything else ends a path. It decodes strings and keys
// exactly as encoding/json does (invalid UTF-8 and lone surrogates become
// U+FFFD). It checks the structure of the object and its scalars, but takes
// an array's text as it stands between its brackets, strings skipped, without
// checking the values inside. A flattener is reused from record to record; it
// is not safe for concurrent use.
type flattener struct {
	doc  []byte
	i    int
	path []byte    // the current field's dotted path
	text []byte    // scratch for a decoded string
	keys []keyMark // the keys seen so far in each object being walked
}

// keyMark is a key already seen in an object, to find duplicates.
type keyMark struct {
	sig        uint64 // keySig of the decoded key
	start, end int    // its text between the quotes in doc
}

// flatten walks doc, one JSON object with whitespace around it allowed, or
// null (no fields, as encoding/json decodes null into a map). It returns an
// error wrapping errBadRecord when doc is neither.
func (f *flattener) flatten(doc []byte, sink fieldSink) error {
	f.doc, f.i, f.path, f.keys = doc, 0, f.path[:0], f.keys[:0]
	defer func() { f.doc = nil }()
	f.skipSpace()
	var err error
	switch {
	case f.i < len(doc) && doc[f.i] == '{':
		err = f.object(sink, 1)
	case f.i < len(doc) && doc[f.i] == 'n':
		_, err = f.literal("null")
	default:
		err = f.fail("not an object")
	}
	if err != nil {
		return err
	}
	f.skipSpace()
	if f.i < len(doc) {
		return f.fail("data after the object")
	}
	return nil
}

func (f *flattener) fail(msg string) error {
	return fmt.Errorf("%w: %s at byte %d", errBadRecord, msg, f.i)
}

func (f *flattener) skipSpace() {
	for f.i < len(f.doc) {
		switch f.doc[f.i] {
		case ' ', '\t', '\n', '\r':
			f.i++
		default:
			return
		}
	}
}

// object walks the object at f.i, at nesting depth depth.
func (f *flattener) object(sink fieldSink, depth int) error {
	if depth > maxDepth {
		return f.fail("nested too deep")
	}
	f.i++ // '{'
	f.skipSpace()
	if f.i < len(f.doc) && f.doc[f.i] == '}' {
		f.i++
		return nil
	}
	base, firstKey := len(f.path), len(f.keys)
	var seen uint64 // a bit per keySig bucket of the object's keys so far
	for {
		if f.i >= len(f.doc) || f.doc[f.i] != '"' {
			return f.fail("want a key")
		}
		start := f.i + 1
		plain, err := f.str()
		if err != nil {
			return err
		}
		end := f.i - 1
		if depth > 1 { // nested: even under the key "", as "." + key
			f.path = append(f.path, '.')
		}
		keyAt := len(f.path)
		if plain {
			f.path = append(f.path, f.doc[start:end]...)
		} else {
			f.path = appendUnquote(f.path, f.doc[start:end])
		}
		sig := keySig(f.path[keyAt:])
		bit := uint64(1) << (sig * 0x9E3779B97F4A7C15 >> 58)
		if seen&bit != 0 { // perhaps a key seen before: look
			for _, k := range f.keys[firstKey:] {
				if k.sig == sig && bytes.Equal(appendUnquote(nil, f.doc[k.start:k.end]), f.path[keyAt:]) {
					sink.drop(f.path)
					break
				}
			}
		}
		seen |= bit
		f.keys = append(f.keys, keyMark{sig: sig, start: start, end: end})
		f.skipSpace()
		if f.i >= len(f.doc) || f.doc[f.i] != ':' {
			return f.fail("want a colon")
		}
		f.i++
		f.skipSpace()
		if err := f.value(sink, depth); err != nil {
			return err
		}
		f.path = f.path[:base]
		f.skipSpace()
		if f.i >= len(f.doc) {
			return f.fail("unfinished object")
		}
		switch f.doc[f.i] {
		case ',':
			f.i++
			f.skipSpace()
		case '}':
			f.i++
			f.keys = f.keys[:firstKey]
			return nil
		default:
			return f.fail("want a comma or a closing brace")
		}
	}
}

// value hands the value at f.i, a member of an object at depth depth, to
// sink.
func (f *flattener) value(sink fieldSink, depth int) error {
	if f.i >= len(f.doc) {
		return f.fail("want a value")
	}
	start := f.i
	switch c := f.doc[f.i]; c {
	case '{':
		return f.object(sink, depth+1)
	case '[':
		if err := f.skipArray(depth + 1); err != nil {
			return err
		}
		sink.field(f.path, f.doc[start:f.i])
	case '"':
		plain, err := f.str()
		if err != nil {
			return err
		}
		text := f.doc[start+1 : f.i-1]
		if !plain {
			f.text = appendUnquote(f.text[:0], text)
			text = f.text
		}
		sink.field(f.path, text)
	case 'n':
		if _, err := f.literal("null"); err != nil {
			return err
		}
		sink.field(f.path, nil)
	case 't', 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		text, err := f.literal(lit)
		if err != nil {
			return err
		}
		sink.field(f.path, text)
	default:
		if err := f.number(); err != nil {
			return err
		}
		sink.field(f.path, f.doc[start:f.i])
	}
	return nil
}

func (f *flattener) literal(lit string) ([]byte, error) {
	if !bytes.HasPrefix(f.doc[f.i:], []byte(lit)) {
		return nil, f.fail("bad literal")
	}
	f.i += len(lit)
	return f.doc[f.i-len(lit) : f.i], nil
}

// skipArray moves past the array at f.i, which is at depth depth.
func (f *flattener) skipArray(depth int) error {
	open := 0
	for f.i < len(f.doc) {
		switch f.doc[f.i] {
		case '"':
			if _, err := f.str(); err != nil {
				return err
			}
			continue
		case '[', '{':
			open++
			if depth+open-1 > maxDepth {
				return f.fail("nested too deep")
			}
		case ']', '}':
			open--
			if open == 0 {
				f.i++
				return nil
			}
		}
		f.i++
	}
	return f.fail("unfinished array")
}

// stringByte tells the bytes that end a string's fast scan: the quote, the
// backslash, control characters (invalid) and non-ASCII.
var stringByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// str moves past the string at f.i (its opening quote). plain reports that
// its text is its value: no escapes, and valid UTF-8.
func (f *flattener) str() (plain bool, err error) {
	f.i++
	start := f.i
	escaped, high := false, false
	for f.i < len(f.doc) {
		c := f.doc[f.i]
		if !stringByte[c] {
			f.i++
			continue
		}
		switch {
		case c == '"':
			f.i++
			plain = !escaped && (!high || utf8.Valid(f.doc[start:f.i-1]))
			return plain, nil
		case c == '\\':
			escaped = true
			f.i++
			if f.i >= len(f.doc) {
				return false, f.fail("unfinished escape")
			}
			switch f.doc[f.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				f.i++
			case 'u':
				if f.i+5 > len(f.doc) || hex4(f.doc[f.i+1:f.i+5]) < 0 {
					return false, f.fail(`bad \u escape`)
				}
				f.i += 5
			default:
				return false, f.fail("bad escape")
			}
		case c < 0x20:
			return false, f.fail("control character in a string")
		default:
			high = true
			f.i++
		}
	}
	return false, f.fail("unfinished string")
}

// number moves past the number at f.i, checking its grammar.
func (f *flattener) number() error {
	d := f.doc
	if d[f.i] == '-' {
		f.i++
	}
	switch {
	case f.i < len(d) && d[f.i] == '0':
		f.i++
	case f.i < len(d) && isDigit(d[f.i]):
		f.skipDigits()
	default:
		return f.fail("bad number")
	}
	if f.i < len(d) && d[f.i] == '.' {
		f.i++
		if f.i >= len(d) || !isDigit(d[f.i]) {
			return f.fail("bad number")
		}
		f.skipDigits()
	}
	if f.i < len(d) && (d[f.i] == 'e' || d[f.i] == 'E') {
		f.i++
		if f.i < len(d) && (d[f.i] == '+' || d[f.i] == '-') {
			f.i++
		}
		if f.i >= len(d) || !isDigit(d[f.i]) {
			return f.fail("bad number")
		}
		f.skipDigits()
	}
	return nil
}

func (f *flattener) skipDigits() {
	for f.i < len(f.doc) && isDigit(f.doc[f.i]) {
		f.i++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hex4 is the value of four hex digits, -1 when they are not.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// keySig tells keys apart cheaply: equal keys have equal signatures (their
// length and their first and last bytes).
func keySig(k []byte) uint64 {
	if len(k) == 0 {
		return 0
	}
	return uint64(len(k))<<16 | uint64(k[0])<<8 | uint64(k[len(k)-1])
}

// appendUnquote appends the value of s, the text between the quotes of a
// string that str accepted, as encoding/json decodes it: escapes undone, a
// surrogate pair joined, a lone surrogate and each byte of invalid UTF-8
// turned into U+FFFD.
func appendUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+1:])
				i += 5
				if r < 0 {
					return dst // str let no such escape through
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i])
			}
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string, byte for byte as
// encoding/json's Encoder with SetEscapeHTML(false) writes it: quotes,
// backslashes and control characters escaped, invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

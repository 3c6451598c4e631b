package worker

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// csvSpecial tells the bytes that make encoding/csv's Writer quote a field:
// the comma, the quote, and the line breaks.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// asciiSpace tells the ASCII bytes that unicode.IsSpace holds spaces.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// appendCSVField appends field as encoding/csv's Writer (Comma ',', UseCRLF
// false) writes it, byte for byte: quoted when it holds a comma, a quote,
// \r or \n, is `\.`, or begins with a space character (unicode.IsSpace), and
// then with its quotes doubled. Other bytes, invalid UTF-8 among them, are
// written as they are.
func appendCSVField(dst, field []byte) []byte {
	if !csvNeedsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(field, '"')
		if i < 0 {
			break
		}
		dst = append(dst, field[:i+1]...)
		dst = append(dst, '"')
		field = field[i+1:]
	}
	dst = append(dst, field...)
	return append(dst, '"')
}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes for the comma.
func csvNeedsQuotes(field []byte) bool {
	if len(field) == 0 {
		return false
	}
	if string(field) == `\.` {
		return true
	}
	for _, c := range field {
		if csvSpecial[c] {
			return true
		}
	}
	if c := field[0]; c < utf8.RuneSelf {
		return asciiSpace[c]
	}
	r, _ := utf8.DecodeRune(field)
	return unicode.IsSpace(r)
}

// Package text turns values into the words the index stores and the keys
// that enrichment matches on, one way for the index and the queries alike.
package text

import (
	"unicode"
	"unicode/utf8"
)

// AppendTokens splits s into words on every character that is not a letter or
// a digit, lowercases them, and appends each word to buf, calling fn with the
// word's bytes (valid until the next call). It returns buf for reuse.
func AppendTokens(buf []byte, s []byte, fn func(word []byte)) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				buf = append(buf, c)
				continue
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
				continue
			}
		} else {
			r, n := utf8.DecodeRune(s[i:])
			i += n
			if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				buf = utf8.AppendRune(buf, unicode.ToLower(r))
				continue
			}
		}
		if len(buf) > 0 {
			fn(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		fn(buf)
		buf = buf[:0]
	}
	return buf
}

// Tokens returns the words of s, as AppendTokens splits them.
func Tokens(s string) []string {
	var out []string
	AppendTokens(nil, []byte(s), func(w []byte) { out = append(out, string(w)) })
	return out
}

// AppendKey appends the normalized form of s to dst: its letters and digits,
// lowercased, with everything else (whitespace, punctuation) left out. Two
// values are equal for enrichment when their keys are, and string ranges
// compare keys.
func AppendKey(dst []byte, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				dst = append(dst, c)
			case 'A' <= c && c <= 'Z':
				dst = append(dst, c+'a'-'A')
			}
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		i += n
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
	}
	return dst
}

// Key returns the normalized form of s, as AppendKey makes it.
func Key(s string) string {
	return string(AppendKey(nil, []byte(s)))
}

// IsDecimal reports whether s is a plain decimal number: an optional minus
// sign, digits, and optionally a point and more digits ("78744", "-97.74").
// Strings like that compare as numbers in ranges.
func IsDecimal(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == start {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		frac := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == frac {
			return false
		}
	}
	return i == len(s)
}

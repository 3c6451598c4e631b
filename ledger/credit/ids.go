package credit

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen is the longest account, pool, job or hold id, in bytes.
const MaxIDLen = 128

// MaxAmount is the largest amount of credits in one request. It keeps every
// count exact in Lua's doubles (2^53) with room to add.
const MaxAmount = 1 << 40

// CheckID returns an error wrapping ErrInvalidID when id cannot name an
// account, pool, job or hold: ids become parts of Redis keys, so '{', '}' and
// ':' would break the key layout and its hash tags.
func CheckID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s id is empty: %w", kind, ErrInvalidID)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s id is longer than %d bytes: %w", kind, MaxIDLen, ErrInvalidID)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s id %q is not UTF-8: %w", kind, id, ErrInvalidID)
	}
	for _, r := range id {
		if r == '{' || r == '}' || r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s id %q holds %q: %w", kind, id, r, ErrInvalidID)
		}
	}
	return nil
}

// CheckAmount returns an error wrapping ErrInvalidAmount unless 0 < n <= MaxAmount.
func CheckAmount(what string, n int64) error {
	if n <= 0 || n > MaxAmount {
		return fmt.Errorf("%s must be from 1 to %d, got %d: %w", what, int64(MaxAmount), n, ErrInvalidAmount)
	}
	return nil
}

package storage

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/jobs"
)

// ResultKey is the key of part (from 1) of a job's results:
// results/<account>/<job>/<part>.<ext>. It is deterministic, so a task
// delivered again overwrites what an earlier run wrote.
func ResultKey(account, job string, part int, f jobs.Format) string {
	return JobPrefix(account, job) + strconv.Itoa(part) + "." + f.Ext()
}

// JobPrefix is the prefix of every result key of a job, ending in "/".
func JobPrefix(account, job string) string {
	return "results/" + account + "/" + job + "/"
}

// CheckKey returns an error wrapping ErrInvalidKey unless key is a relative,
// slash-separated path whose segments are non-empty, do not start with a
// dot (so neither "." nor ".." can escape), and hold no backslash or NUL.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > 1024 {
		return fmt.Errorf("%w: longer than 1024 bytes", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w %q: an empty segment", ErrInvalidKey, key)
		case seg[0] == '.':
			return fmt.Errorf("%w %q: a segment starts with a dot", ErrInvalidKey, key)
		case strings.ContainsAny(seg, "\\\x00"):
			return fmt.Errorf("%w %q: a backslash or NUL", ErrInvalidKey, key)
		}
	}
	return nil
}

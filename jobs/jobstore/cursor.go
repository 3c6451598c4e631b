package jobstore

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// position is a place in an account's job index: a job's creation time (unix
// ms, its score) and its id. The index runs newest first, and ids of one
// millisecond from the greatest down. The zero position is the start.
type position struct {
	score int64
	id    string
}

// start reports whether p is the start of the index.
func (p position) start() bool { return p.id == "" }

// after reports whether the entry (score, id) comes after p in the index.
func (p position) after(score int64, id string) bool {
	if p.start() {
		return true
	}
	return score < p.score || score == p.score && id < p.id
}

// encodeCursor makes the opaque cursor of the page that follows p.
func encodeCursor(p position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.score, 10) + ":" + p.id))
}

// decodeCursor reads a cursor of encodeCursor. It returns an error wrapping
// jobs.ErrInvalidCursor for anything else.
func decodeCursor(c string) (position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, fmt.Errorf("%w: not base64", jobs.ErrInvalidCursor)
	}
	score, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return position{}, fmt.Errorf("%w: no position", jobs.ErrInvalidCursor)
	}
	n, err := strconv.ParseInt(score, 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("%w: bad time", jobs.ErrInvalidCursor)
	}
	if credit.CheckID("job", id) != nil {
		return position{}, fmt.Errorf("%w: bad job id", jobs.ErrInvalidCursor)
	}
	return position{score: n, id: id}, nil
}

package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// FuzzJournalCursor reads a journal page from any cursor on the shared
// redis-server: it never panics, a cursor ValidCursor refuses is refused
// with credit.ErrInvalidCursor before Redis sees it, and one it accepts is
// one Redis takes (any other error would be Redis refusing the id).
func FuzzJournalCursor(f *testing.F) {
	for _, s := range []string{"", "0-0", "1-0", "1767225600000-3", "99999999999999999999999-0", "18446744073709551615-18446744073709551615",
		"18446744073709551615-18446744073709551614", "18446744073709551616-0", "01-0", "1-01", "-1", "1-", "x", "1-2-3", "+1-0", " 1-0", "1"} {
		f.Add(s)
	}
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	f.Cleanup(func() { c.Close() })
	l := ledger.New(c, ledger.Options{Prefix: "fuzz" + time.Now().Format("150405.000000")})
	ctx := context.Background()
	start := time.Now()
	if _, _, err := l.OpenPool(ctx, "acme", credit.PoolConfig{Name: "people", Grant: 10}, start, start.AddDate(0, 1, 0)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		_, _, err := l.Journal(ctx, "acme", ledger.JournalQuery{Pool: "people", Cursor: cursor})
		switch {
		case cursor == "" || ledger.ValidCursor(cursor):
			if err != nil {
				t.Fatalf("cursor %q passes ValidCursor, but the page fails: %v", cursor, err)
			}
		case !errors.Is(err, credit.ErrInvalidCursor):
			t.Fatalf("cursor %q: %v, want ErrInvalidCursor", cursor, err)
		}
	})
}

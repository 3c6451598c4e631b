package plan

import (
	"slices"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts is
// a usable catalog: sorted ids, a schedule that moves forward, periods that
// hold the moment asked about, and each plan subscribable alone. Seeds are
// in testdata/fuzz/FuzzParse, plus the built-in catalog.
func FuzzParse(f *testing.F) {
	f.Add(BuiltinYAML())
	f.Add([]byte(apiExample))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a catalog with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("Parse returned an empty error")
			}
			return
		}
		if c.Len() == 0 || !slices.IsSorted(c.IDs()) {
			t.Fatalf("accepted catalog has ids %v", c.IDs())
		}
		at := time.Date(2025, 3, 14, 15, 9, 26, 535, time.UTC)
		for _, p := range c.Plans() {
			if !validName(p.ID) || !validName(p.Pool) || len(p.DataTypes) == 0 || len(p.Operations) == 0 || p.Credits < 0 {
				t.Fatalf("accepted an invalid plan: %+v", p)
			}
			next := p.NextBoundary(at)
			if !next.After(at) {
				t.Fatalf("plan %q (%q): NextBoundary(%v) = %v", p.ID, p.Refresh, at, next)
			}
			now := next.Add(40 * 24 * time.Hour)
			if s, e := p.CurrentPeriod(next, now); s.After(now) || !now.Before(e) {
				t.Fatalf("plan %q (%q): CurrentPeriod(%v, %v) = [%v, %v)", p.ID, p.Refresh, next, now, s, e)
			}
			if _, err := c.Subscribe([]string{p.ID}); err != nil {
				t.Fatalf("Subscribe(%q): %v", p.ID, err)
			}
		}
	})
}

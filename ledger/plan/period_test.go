package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// planWith returns a valid plan whose refresh is spec.
func planWith(t testing.TB, spec string) Plan {
	t.Helper()
	c, err := Parse([]byte(replace("refresh", fmt.Sprintf("%q", spec))))
	if err != nil {
		t.Fatalf("plan with refresh %q: %v", spec, err)
	}
	p, _ := c.Plan("x")
	return p
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestPeriods(t *testing.T) {
	type period struct{ start, end string }
	tests := []struct {
		name    string
		spec    string
		created string
		first   period
		// current maps now to the period CurrentPeriod gives from the end of
		// the first period.
		current map[string]period
	}{
		{
			name:    "@monthly",
			spec:    "@monthly",
			created: "2025-01-15T10:30:00.123Z",
			first:   period{"2025-01-15T10:30:00.123Z", "2025-02-01T00:00:00Z"},
			current: map[string]period{
				"2025-02-01T00:00:00Z":           {"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"},
				"2025-02-10T12:00:00Z":           {"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"},
				"2025-08-31T23:59:59.999999999Z": {"2025-08-01T00:00:00Z", "2025-09-01T00:00:00Z"},
				"2025-09-01T00:00:00Z":           {"2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z"},
				// Catch-up after years of downtime: the current period only.
				"2029-12-17T08:00:00Z": {"2029-12-01T00:00:00Z", "2030-01-01T00:00:00Z"},
				// Before the last period's end: the period that starts there.
				"2025-01-20T00:00:00Z": {"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"},
			},
		},
		{
			name:    "0 0 1 * * is @monthly",
			spec:    "0 0 1 * *",
			created: "2024-02-29T23:59:59Z",
			first:   period{"2024-02-29T23:59:59Z", "2024-03-01T00:00:00Z"},
			current: map[string]period{
				"2024-03-01T00:00:01Z": {"2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"},
				"2026-02-28T00:00:00Z": {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
			},
		},
		{
			name:    "@yearly",
			spec:    "@yearly",
			created: "2024-03-10T09:00:00Z",
			first:   period{"2024-03-10T09:00:00Z", "2025-01-01T00:00:00Z"},
			current: map[string]period{
				"2025-06-01T00:00:00Z": {"2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
				"2031-06-15T00:00:00Z": {"2031-01-01T00:00:00Z", "2032-01-01T00:00:00Z"},
			},
		},
		{
			name:    "@every 24h runs from the creation time",
			spec:    "@every 24h",
			created: "2025-01-15T10:30:00.250Z",
			// robfig/cron drops the fraction of a second: boundaries are whole seconds.
			first: period{"2025-01-15T10:30:00.25Z", "2025-01-16T10:30:00Z"},
			current: map[string]period{
				"2025-01-16T10:30:00Z": {"2025-01-16T10:30:00Z", "2025-01-17T10:30:00Z"},
				"2025-03-01T08:00:00Z": {"2025-02-28T10:30:00Z", "2025-03-01T10:30:00Z"},
				"2027-01-01T00:00:00Z": {"2026-12-31T10:30:00Z", "2027-01-01T10:30:00Z"},
			},
		},
		{
			name:    "five-field spec on weekdays",
			spec:    "30 6 * * 1-5",
			created: "2025-03-07T12:00:00Z", // a Friday
			first:   period{"2025-03-07T12:00:00Z", "2025-03-10T06:30:00Z"},
			current: map[string]period{
				"2025-03-15T00:00:00Z": {"2025-03-14T06:30:00Z", "2025-03-17T06:30:00Z"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planWith(t, tt.spec)
			start, end := p.FirstPeriod(utc(tt.created))
			if got := (period{fmtTime(start), fmtTime(end)}); got != (period{fmtTime(utc(tt.first.start)), fmtTime(utc(tt.first.end))}) {
				t.Errorf("FirstPeriod(%s) = %v, want %v", tt.created, got, tt.first)
			}
			// A new account's lastEnd is its creation time: same period.
			if s, e := p.CurrentPeriod(utc(tt.created), utc(tt.created)); !s.Equal(start) || !e.Equal(end) {
				t.Errorf("CurrentPeriod(created, created) = %v, %v; want the first period", s, e)
			}
			for now, want := range tt.current {
				s, e := p.CurrentPeriod(end, utc(now))
				if !s.Equal(utc(want.start)) || !e.Equal(utc(want.end)) {
					t.Errorf("CurrentPeriod(%s, %s) = [%s, %s), want [%s, %s)",
						fmtTime(end), now, fmtTime(s), fmtTime(e), want.start, want.end)
				}
				if s.Location() != time.UTC || e.Location() != time.UTC {
					t.Errorf("CurrentPeriod gave times in %v, %v; want UTC", s.Location(), e.Location())
				}
			}
		})
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestPeriodsAreUTC(t *testing.T) {
	p := planWith(t, "0 0 1 * *")
	// 2025-01-31 22:00 in UTC-5 is 2025-02-01 03:00 UTC: the February period.
	est := time.FixedZone("EST", -5*3600)
	created := time.Date(2025, 1, 31, 22, 0, 0, 0, est)
	start, end := p.FirstPeriod(created)
	if want := utc("2025-03-01T00:00:00Z"); !end.Equal(want) || end.Location() != time.UTC {
		t.Errorf("FirstPeriod(%v) ends %v, want %v", created, end, want)
	}
	if !start.Equal(created) || start.Location() != time.UTC {
		t.Errorf("FirstPeriod(%v) starts %v, want the same instant in UTC", created, start)
	}
}

// TestCurrentPeriodMatchesWalk compares CurrentPeriod with the walk it
// replaces, on random gaps.
func TestCurrentPeriodMatchesWalk(t *testing.T) {
	specs := []struct {
		spec   string
		maxGap time.Duration
	}{
		{"@monthly", 5 * 365 * 24 * time.Hour},
		{"@yearly", 20 * 365 * 24 * time.Hour},
		{"@weekly", 2 * 365 * 24 * time.Hour},
		{"*/7 * * * *", 30 * 24 * time.Hour},
		{"30 6 * * 1-5", 365 * 24 * time.Hour},
		{"0 12 29 2 *", 12 * 365 * 24 * time.Hour},
		{"@every 90m", 90 * 24 * time.Hour},
		{"@every 1s", time.Hour},
		{"@every 720h", 5 * 365 * 24 * time.Hour},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := utc("2024-01-01T00:00:00Z")
	for _, s := range specs {
		p := planWith(t, s.spec)
		for range 50 {
			created := base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
			_, lastEnd := p.FirstPeriod(created)
			now := lastEnd.Add(time.Duration(rng.Int64N(int64(s.maxGap))))
			if rng.IntN(4) == 0 {
				now = p.NextBoundary(now) // exactly on a boundary
			}
			ws, we := walk(p, lastEnd, now)
			gs, ge := p.CurrentPeriod(lastEnd, now)
			if !gs.Equal(ws) || !ge.Equal(we) {
				t.Fatalf("%s: CurrentPeriod(%s, %s) = [%s, %s), walk gives [%s, %s)",
					s.spec, fmtTime(lastEnd), fmtTime(now), fmtTime(gs), fmtTime(ge), fmtTime(ws), fmtTime(we))
			}
			if gs.After(now) || !now.Before(ge) {
				t.Fatalf("%s: [%s, %s) does not hold %s", s.spec, fmtTime(gs), fmtTime(ge), fmtTime(now))
			}
		}
	}
}

// walk is the definition CurrentPeriod implements.
func walk(p Plan, lastEnd, now time.Time) (start, end time.Time) {
	start = lastEnd
	for {
		end = p.NextBoundary(start)
		if now.Before(end) {
			return start, end
		}
		start = end
	}
}

func TestCurrentPeriodLongGaps(t *testing.T) {
	// A walk would take millions of steps here; CurrentPeriod must not.
	tests := []struct {
		spec           string
		lastEnd, now   string
		wantS, wantEnd string
	}{
		{"* * * * *", "2020-01-01T00:00:00Z", "2030-06-15T13:45:30Z", "2030-06-15T13:45:00Z", "2030-06-15T13:46:00Z"},
		{"@every 1s", "2000-01-01T00:00:00Z", "2030-06-15T13:45:30.5Z", "2030-06-15T13:45:30Z", "2030-06-15T13:45:31Z"},
		{"@every 1s", "1700-01-01T00:00:00Z", "2030-06-15T13:45:30.5Z", "2030-06-15T13:45:30Z", "2030-06-15T13:45:31Z"},
		{"@monthly", "1990-01-01T00:00:00Z", "2190-06-15T00:00:00Z", "2190-06-01T00:00:00Z", "2190-07-01T00:00:00Z"},
	}
	for _, tt := range tests {
		p := planWith(t, tt.spec)
		s, e := p.CurrentPeriod(utc(tt.lastEnd), utc(tt.now))
		if !s.Equal(utc(tt.wantS)) || !e.Equal(utc(tt.wantEnd)) {
			t.Errorf("%s: CurrentPeriod(%s, %s) = [%s, %s), want [%s, %s)",
				tt.spec, tt.lastEnd, tt.now, fmtTime(s), fmtTime(e), tt.wantS, tt.wantEnd)
		}
	}
}

func TestPeriodID(t *testing.T) {
	tests := []struct {
		start time.Time
		want  string
	}{
		{utc("2025-02-01T00:00:00Z"), "2025-02-01T00:00:00Z"},
		{time.Date(2025, 1, 31, 19, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2025-02-01T00:00:00Z"},
		{utc("2025-01-15T10:30:00.123Z"), "2025-01-15T10:30:00Z"},
	}
	for _, tt := range tests {
		if got := PeriodID(tt.start); got != tt.want {
			t.Errorf("PeriodID(%v) = %q, want %q", tt.start, got, tt.want)
		}
	}
}

func BenchmarkCurrentPeriod(b *testing.B) {
	for _, spec := range []string{"@monthly", "* * * * *", "@every 1s"} {
		p := planWith(b, spec)
		lastEnd, now := utc("2020-01-01T00:00:00Z"), utc("2025-06-15T13:45:30Z")
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				p.CurrentPeriod(lastEnd, now)
			}
		})
	}
}

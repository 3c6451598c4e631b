package plan

import (
	"time"

	"github.com/robfig/cron/v3"
)

// A period is the span [start, end) between two boundaries of a plan's
// schedule, over which its grant applies. An account's first period starts
// when the account is created and ends at the next boundary; each later
// period runs from one boundary to the next. All times are UTC.

// NextBoundary returns the first boundary of the plan's schedule strictly
// after t, in UTC.
//
// It returns the zero Time when the schedule has no boundary within five
// years after t: robfig/cron searches no further. Parse refuses specs that
// never fire, so only rare specs such as "0 0 29 2 *" near 2100 meet this.
func (p Plan) NextBoundary(t time.Time) time.Time {
	return p.Schedule.Next(t.UTC()).UTC()
}

// FirstPeriod returns the first period of an account created at created:
// from created to the next boundary.
func (p Plan) FirstPeriod(created time.Time) (start, end time.Time) {
	return created.UTC(), p.NextBoundary(created)
}

// CurrentPeriod returns the period that contains now (start <= now < end),
// given lastEnd, the end of the last period applied, or for an account that
// has had none, its creation time. Periods follow one another from lastEnd.
// After a gap of many periods it returns only the current one, so a refresh
// that catches up after downtime applies once. If now is before lastEnd it
// returns the period that starts at lastEnd. If NextBoundary finds no
// boundary, end is the zero Time.
//
// The result is what walking the boundaries from lastEnd gives, without the
// walk: for "@every" specs it jumps by whole periods; for other cron specs
// it bisects [lastEnd, now] for the last boundary at or before now, some 64
// steps whatever the gap (a walk of "* * * * *" over a year of downtime
// would take half a million). A Schedule of another type, which Parse never
// makes, is walked for at most maxWalk boundaries.
func (p Plan) CurrentPeriod(lastEnd, now time.Time) (start, end time.Time) {
	start, now = lastEnd.UTC(), now.UTC()
	end = p.NextBoundary(start)
	if end.IsZero() || now.Before(end) {
		return start, end
	}
	// end is a boundary at or before now: the current period starts at the
	// last boundary at or before now.
	switch s := p.Schedule.(type) {
	case cron.ConstantDelaySchedule:
		if s.Delay > 0 {
			start = jumpEvery(end, now, s.Delay)
			return start, p.NextBoundary(start)
		}
	case *cron.SpecSchedule:
		start = lastBoundary(p.NextBoundary, end, now)
		return start, p.NextBoundary(start)
	}
	start = end
	for range maxWalk {
		end = p.NextBoundary(start)
		if end.IsZero() || now.Before(end) {
			break
		}
		start = end
	}
	return start, end
}

// maxWalk bounds the walk of a schedule CurrentPeriod cannot jump through.
const maxWalk = 100_000

// maxBisect bounds lastBoundary. Each step halves a span of at most 2^63 ns
// (spans beyond 292 years shrink by at least 146 years a step), so the
// bound is never reached.
const maxBisect = 256

// jumpEvery returns the last boundary at or before now of a schedule whose
// boundaries are b, b+d, b+2d, … (b at or before now).
func jumpEvery(b, now time.Time, d time.Duration) time.Time {
	for {
		// Sub saturates past 292 years: then jump again.
		n := now.Sub(b) / d
		if n == 0 {
			return b
		}
		b = b.Add(n * d)
	}
}

// lastBoundary returns the last boundary at or before now, given a boundary
// lo at or before now and next, which gives the first boundary strictly
// after any time (the boundaries being a fixed set, as for a cron spec).
//
// It bisects [lo, hi], which always holds the answer: when next(mid) is at
// or before now, the answer is at or after it; otherwise there is no
// boundary in (mid, now], and the answer is at or before mid.
func lastBoundary(next func(time.Time) time.Time, lo, now time.Time) time.Time {
	hi := now
	for range maxBisect {
		if n := next(lo); n.IsZero() || n.After(now) {
			return lo
		}
		mid := lo.Add(hi.Sub(lo) / 2)
		if n := next(mid); !n.IsZero() && !n.After(now) {
			lo = n
		} else {
			hi = mid
		}
	}
	return lo
}

// PeriodID returns a stable id of the period that starts at start: its
// start in UTC, RFC 3339, to the second. Two periods of one plan never
// start within the same second (boundaries are whole seconds, at least a
// second apart), so the id is unique per (account, pool).
func PeriodID(start time.Time) string { return start.UTC().Format(time.RFC3339) }

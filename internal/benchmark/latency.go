package benchmark

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// maxInFlight bounds the calls OpenLoop has running: past it, the system
// does not keep up with the rate, and the latencies would say nothing.
const maxInFlight = 4096

// OpenLoop calls fn at rate calls per second for d, each call at its
// scheduled time whether or not earlier calls have returned (an open loop:
// a slow call holds no later one back). A call's latency counts from its
// scheduled time, so a stall of the caller is counted, not hidden. It
// returns the latencies, sorted, or the first error of a call.
func OpenLoop(ctx context.Context, rate float64, d time.Duration, fn func(context.Context) error) ([]time.Duration, error) {
	if rate <= 0 || d <= 0 {
		return nil, fmt.Errorf("open loop: rate %g/s for %s: both must be positive", rate, d)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, n)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		slots    = make(chan struct{}, maxInFlight)
	)
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			fail(fmt.Errorf("open loop: %d calls in flight at %g/s: the system does not keep up", maxInFlight, rate))
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fn(ctx); err != nil {
				fail(err)
				return
			}
			lat[i] = time.Since(at)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted latencies
// by the nearest-rank method: the smallest value that at least p% of the
// values are at or below.
func Percentile(sorted []time.Duration, p float64) (time.Duration, error) {
	if len(sorted) == 0 {
		return 0, errors.New("percentile of no values")
	}
	if p <= 0 || p > 100 || math.IsNaN(p) {
		return 0, fmt.Errorf("percentile %g: must be in (0, 100]", p)
	}
	rank := int(math.Ceil(p * float64(len(sorted)) / 100)) // multiplied first, so that 99% of 100 is exactly 99
	return sorted[max(rank, 1)-1], nil
}

// Millis is d in milliseconds, to two decimals.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}

package client

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how often and how long the client retries a request.
//
// A request is sent again after a 429 rate_limited or a 503 unavailable
// answer (the API did nothing then), and after a transport failure for a GET
// or a POST (a POST carries the same Idempotency-Key on every attempt, so the
// API runs it at most once). No other 4xx is ever retried, nor a DELETE cut
// by a transport failure.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts of one call, the first included.
	// Defaults to 4; 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt when the answer
	// has no Retry-After; each further attempt doubles it, up to MaxDelay,
	// and the wait is drawn at random between half of it and all of it.
	// Defaults to 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. Defaults to 10s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a
	// longer one ends the call with the 429 or 503 as its error. Defaults
	// to 1 minute.
	MaxRetryAfter time.Duration
	// SleepFunc waits d, or returns ctx.Err() when ctx ends first. Defaults
	// to a timer. Tests replace it to see the waits without spending them.
	SleepFunc func(ctx context.Context, d time.Duration) error
}

// DefaultRetryPolicy is the policy of a client made without WithRetry.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:   4,
	BaseDelay:     500 * time.Millisecond,
	MaxDelay:      10 * time.Second,
	MaxRetryAfter: time.Minute,
}

// NoRetry is a policy that sends each request once.
var NoRetry = RetryPolicy{MaxAttempts: 1}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.SleepFunc == nil {
		p.SleepFunc = sleep
	}
	return p
}

// sleep waits d, or less when ctx ends first (then it returns ctx.Err()).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.SleepFunc(ctx, d)
}

// backoff is the wait after the attempt-th attempt failed, with jitter:
// a random duration in [b/2, b] where b = BaseDelay·2^(attempt-1), capped
// by MaxDelay.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	b := p.BaseDelay
	for i := 1; i < attempt && b < p.MaxDelay; i++ {
		b *= 2
	}
	b = min(b, p.MaxDelay)
	half := b / 2
	return half + rand.N(b-half+1)
}

// wait is the wait after the attempt-th attempt answered a retryable
// status: its Retry-After when it has one, else the backoff. It reports
// false when Retry-After asks for more than MaxRetryAfter.
func (p RetryPolicy) wait(attempt int, retryAfter string) (time.Duration, bool) {
	d, ok := parseRetryAfter(retryAfter, time.Now())
	if !ok {
		return p.backoff(attempt), true
	}
	if d > p.MaxRetryAfter {
		return 0, false
	}
	return d, true
}

// parseRetryAfter reads a Retry-After header: delay seconds, or an HTTP
// date (a date in the past is no wait). It reports false for an absent or
// malformed header.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryStatus reports whether an answer of this status is retried: 429 and
// 503, which the API answers when it did nothing.
func retryStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

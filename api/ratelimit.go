package api

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// limit counts one request against subject's rate (GCRA, redis_rate) and
// sets X-RateLimit-Limit, -Remaining and -Reset (seconds until the bucket is
// full again). Over the rate it sets Retry-After (whole seconds, at least 1)
// and returns errRateLimited. It returns the Redis error when the limiter
// cannot be reached.
func (s *Server) limit(c *call, subject string) error {
	if s.cfg.RateLimit <= 0 {
		return nil
	}
	res, err := s.limiter.Allow(c.r.Context(), s.keys.rate(subject), redis_rate.PerSecond(s.cfg.RateLimit))
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	h := c.w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.cfg.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(res.Remaining, 0)))
	h.Set("X-RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
	if res.Allowed == 0 {
		h.Set("Retry-After", strconv.Itoa(max(ceilSeconds(res.RetryAfter), 1)))
		return errRateLimited
	}
	return nil
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

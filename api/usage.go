package api

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The usage counters of GET /v1/account.
const (
	counterRequests    = "api_requests"
	counterSearches    = "searches"
	counterDownloads   = "downloads"
	counterEnrichments = "enrichments"
)

// usageTTL keeps a day's counters past the longest period worth reading.
const usageTTL = 400 * 24 * time.Hour

// maxUsageDays bounds how many days GET /v1/account adds up.
const maxUsageDays = 400

// countUsage adds one to each of an account's counters in the current hour.
// Usage is best effort: a failure is logged and the request goes on.
func (s *Server) countUsage(ctx context.Context, account string, counters ...string) {
	now := s.cfg.NowFunc().UTC()
	key := s.keys.usage(account, now.Format("20060102"))
	pipe := s.client.Pipeline()
	for _, counter := range counters {
		pipe.HIncrBy(ctx, key, now.Format("15")+":"+counter, 1)
	}
	pipe.Expire(ctx, key, usageTTL)
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("api: count usage", "account", account, "counters", counters, "err", err)
	}
}

// usage adds up an account's counters from the hour of since to now.
// Counters are kept per hour, so a period that starts mid-hour counts from
// the start of that hour.
func (s *Server) usage(ctx context.Context, account string, since time.Time) (map[string]int64, error) {
	out := map[string]int64{counterRequests: 0, counterSearches: 0, counterDownloads: 0, counterEnrichments: 0}
	now := s.cfg.NowFunc().UTC()
	since = since.UTC().Truncate(time.Hour)
	if since.IsZero() || now.Sub(since) > maxUsageDays*24*time.Hour {
		since = now.Add(-maxUsageDays * 24 * time.Hour)
	}
	pipe := s.client.Pipeline()
	var days []time.Time
	var cmds []*redis.MapStringStringCmd
	for d := since.Truncate(24 * time.Hour); !d.After(now); d = d.Add(24 * time.Hour) {
		days = append(days, d)
		cmds = append(cmds, pipe.HGetAll(ctx, s.keys.usage(account, d.Format("20060102"))))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	for i, cmd := range cmds {
		for field, v := range cmd.Val() {
			hh, counter, ok := strings.Cut(field, ":")
			h, err := strconv.Atoi(hh)
			if !ok || err != nil {
				continue
			}
			if days[i].Add(time.Duration(h) * time.Hour).Before(since) {
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			out[counter] += n
		}
	}
	return out, nil
}

package api

import (
	"context"
	"strconv"
	"strings"
	"sync"
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

// usageFlushEvery is how often a process writes the usage it counted.
const usageFlushEvery = 200 * time.Millisecond

// countUsage adds one to each of an account's counters in the current hour.
// The counts are added up in process and written in one pipeline for every
// account at most every usageFlushEvery (usageBatch), so that a request
// costs no round trip of its own for them. Usage is a report, not money:
// what a process counted in the moments before it dies is lost, and a
// failed write is logged and dropped.
func (s *Server) countUsage(account string, counters ...string) {
	now := s.cfg.NowFunc().UTC()
	key := s.keys.usage(account, now.Format("20060102"))
	hour := now.Format("15") + ":"
	if s.counted.add(key, hour, counters) {
		go s.flushUsageEvery(usageFlushEvery)
	}
}

// flushUsageEvery writes the counted usage every d until a write finds
// nothing counted since the last.
func (s *Server) flushUsageEvery(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for range t.C {
		if !s.FlushUsage(context.Background()) && s.counted.stopIfIdle() {
			return
		}
	}
}

// FlushUsage writes the usage this process counted and has not written, in
// one pipeline, and reports whether there was any. A process calls it before
// it stops; reads of usage call it first, so that a process sees its own
// counts at once (other processes' within usageFlushEvery).
func (s *Server) FlushUsage(ctx context.Context) bool {
	counts := s.counted.take()
	if counts == nil {
		return false
	}
	pipe := s.client.Pipeline()
	for key, fields := range counts {
		for field, n := range fields {
			pipe.HIncrBy(ctx, key, field, n)
		}
		pipe.Expire(ctx, key, usageTTL)
	}
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("api: write usage counts", "keys", len(counts), "err", err)
	}
	return true
}

// usageBatch is the usage counted in process and not yet written: by key,
// the hash of a day's counters, and field, an hour's counter.
type usageBatch struct {
	mu      sync.Mutex
	pending map[string]map[string]int64
	// flushing says a goroutine writes the counts every usageFlushEvery;
	// it stops, and says so here, once it finds nothing to write
	// (stopIfIdle).
	flushing bool
}

// add counts one of each counter, and reports whether the caller is to
// start the goroutine that writes them.
func (b *usageBatch) add(key, hour string, counters []string) (start bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]map[string]int64{}
	}
	fields := b.pending[key]
	if fields == nil {
		fields = map[string]int64{}
		b.pending[key] = fields
	}
	for _, c := range counters {
		fields[hour+c]++
	}
	start, b.flushing = !b.flushing, true
	return start
}

// take returns the counts not yet written and forgets them; nil when there
// are none.
func (b *usageBatch) take() map[string]map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = nil
	if len(p) == 0 {
		return nil
	}
	return p
}

// stopIfIdle reports whether nothing is counted, and then marks the writing
// goroutine stopped, so that the next count starts one: only that goroutine
// calls it, so there is one at a time.
func (b *usageBatch) stopIfIdle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 {
		return false
	}
	b.flushing = false
	return true
}

// usage adds up an account's counters from the hour of since to now.
// Counters are kept per hour, so a period that starts mid-hour counts from
// the start of that hour.
func (s *Server) usage(ctx context.Context, account string, since time.Time) (map[string]int64, error) {
	s.FlushUsage(ctx)
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

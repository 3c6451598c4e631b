package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClock is a clock that follows Redis's: the local clock plus the offset
// of Redis's TIME, measured at start and again every refresh interval. The
// ledger's times (journal entries, settlements, the period a refund falls
// in) and the jobs' times (created, finished, when results expire) come
// from it in every process, so that a worker whose own clock runs minutes
// ahead or behind stamps what it does with Redis's time, as the scheduler
// and the API do. Between measurements it advances with the local clock.
type RedisClock struct {
	client redis.UniversalClient
	local  func() time.Time
	// offset is Redis's time minus the local time, in nanoseconds.
	offset atomic.Int64
	stop   context.CancelFunc
	done   sync.WaitGroup
}

// RedisClockOptions configure a RedisClock.
type RedisClockOptions struct {
	// Refresh is how often the offset is measured again. Defaults to a
	// minute.
	Refresh time.Duration
	// LocalFunc is the local clock the offset is added to. Defaults to
	// time.Now; tests set a skewed one.
	LocalFunc func() time.Time
}

// NewRedisClock measures the offset of Redis's clock and keeps measuring it
// until Close. It returns an error when Redis cannot be asked for the time.
func NewRedisClock(ctx context.Context, client redis.UniversalClient, opts RedisClockOptions) (*RedisClock, error) {
	refresh := opts.Refresh
	if refresh <= 0 {
		refresh = time.Minute
	}
	if opts.LocalFunc == nil {
		opts.LocalFunc = time.Now
	}
	c := &RedisClock{client: client, local: opts.LocalFunc}
	if err := c.measure(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				// A failed measurement keeps the last offset.
				_ = c.measure(bg)
			}
		}
	}()
	return c, nil
}

// measure asks Redis for its time and sets the offset from the middle of the
// round trip.
func (c *RedisClock) measure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	before := c.local()
	rt, err := c.client.Time(ctx).Result()
	if err != nil {
		return err
	}
	after := c.local()
	local := before.Add(after.Sub(before) / 2)
	c.offset.Store(int64(rt.Sub(local)))
	return nil
}

// Now returns Redis's time, as last measured.
func (c *RedisClock) Now() time.Time {
	return c.local().Add(time.Duration(c.offset.Load()))
}

// Offset returns how far Redis's clock is ahead of the local one (negative
// when behind), as last measured.
func (c *RedisClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Close stops the measurements.
func (c *RedisClock) Close() {
	c.stop()
	c.done.Wait()
}

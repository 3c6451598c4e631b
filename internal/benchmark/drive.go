package benchmark

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Counter counts tasks a consumer finished, up to a target, or notes the
// first that failed.
type Counter struct {
	n       atomic.Int64
	target  int64
	reached chan struct{}
	once    sync.Once
	err     error
}

// NewCounter returns a counter that reaches target.
func NewCounter(target int) *Counter {
	return &Counter{target: int64(target), reached: make(chan struct{})}
}

// Add counts one task.
func (c *Counter) Add() {
	if c.n.Add(1) == c.target {
		c.once.Do(func() { close(c.reached) })
	}
}

// Fail ends the wait with err, unless it has ended.
func (c *Counter) Fail(err error) {
	c.once.Do(func() { c.err = err; close(c.reached) })
}

// Wait waits until the target is reached, a task failed, or ctx ends.
func (c *Counter) Wait(ctx context.Context) error {
	select {
	case <-c.reached:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain measures a producer and a consumer together: it makes count calls
// of produce from goroutines goroutines, calls start (which starts the
// consumer) once the first call has returned, and waits until done reaches
// count. It returns the time from the first call to the last task done. The consumer starts after the first task exists because an
// asynq server whose poll finds its queues empty sleeps 0.5 to 1.5 s before
// the next one.
func Drain(ctx context.Context, count, goroutines int, produce func(context.Context) error, start func() error, done *Counter) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		started  sync.Once
		startErr error
		wg       sync.WaitGroup
	)
	begin := time.Now()
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(count) && ctx.Err() == nil {
				if err := produce(ctx); err != nil {
					done.Fail(err)
					return
				}
				started.Do(func() {
					if startErr = start(); startErr != nil {
						done.Fail(startErr)
					}
				})
			}
		})
	}
	err := done.Wait(ctx)
	elapsed := time.Since(begin)
	cancel()
	wg.Wait()
	if err != nil {
		return 0, err
	}
	return elapsed, nil
}

// forEach calls fn for each of items from goroutines goroutines and returns
// the first error.
func forEach[T any](ctx context.Context, items []T, goroutines int, fn func(T) error) error {
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				if err := fn(items[i]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

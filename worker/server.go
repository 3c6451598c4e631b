package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
)

// ShutdownTimeout is how long a shutdown waits for running tasks before it
// puts them back in the queue, where another worker picks them up.
const ShutdownTimeout = 25 * time.Second

// NewServer returns an asynq server for h, running concurrency tasks at once
// (20 when not positive) from queue "default"; start it with h, as Run does.
// A task cut short because its worker died (asynq.ErrLeaseExpired) does not
// count as a failure, so it does not use up a retry: h caps attempts itself.
// Nor does a task turned away because its account has as many jobs running
// as it may (ErrAccountBusy): it comes back after its BusyError's Delay.
// Retries wait a short backoff (RetryDelay). Failed runs, and asynq's own
// messages, are logged to h's logger.
func NewServer(redisOpt asynq.RedisConnOpt, concurrency int, h *Handler) *asynq.Server {
	if concurrency <= 0 {
		concurrency = 20
	}
	return asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueName: 1},
		IsFailure:       func(err error) bool { return !errors.Is(err, asynq.ErrLeaseExpired) && !errors.Is(err, ErrAccountBusy) },
		RetryDelayFunc:  RetryDelay,
		ShutdownTimeout: ShutdownTimeout,
		Logger:          slogLogger{h.cfg.Logger},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if errors.Is(err, ErrAccountBusy) {
				return // no failure: the task waits its turn
			}
			n, _ := asynq.GetRetryCount(ctx)
			id, _ := asynq.GetTaskID(ctx)
			h.cfg.Logger.Warn("task failed", "type", t.Type(), "task", id, "retry", n, "err", err)
		}),
	})
}

// RetryDelay is the wait before retry n (from 0): 1 s, 2 s, 4 s …, at most a
// minute; and for a task turned away by its account's cap, its BusyError's
// Delay.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if be, ok := errors.AsType[*BusyError](err); ok {
		return be.Delay
	}
	return min(time.Second<<min(max(n, 0), 6), time.Minute)
}

// Run serves h's tasks until ctx is done, then shuts down gracefully:
// running tasks get ShutdownTimeout to finish and go back to the queue
// otherwise. It returns the error that kept the server from starting, or
// nil after a shutdown.
func Run(ctx context.Context, redisOpt asynq.RedisConnOpt, concurrency int, h *Handler) error {
	srv := NewServer(redisOpt, concurrency, h)
	if err := srv.Start(h); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// slogLogger is asynq's logger on slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Debug(args ...any) { s.l.Debug(fmt.Sprint(args...)) }
func (s slogLogger) Info(args ...any)  { s.l.Info(fmt.Sprint(args...)) }
func (s slogLogger) Warn(args ...any)  { s.l.Warn(fmt.Sprint(args...)) }
func (s slogLogger) Error(args ...any) { s.l.Error(fmt.Sprint(args...)) }

// Fatal logs and exits, as asynq expects of it.
func (s slogLogger) Fatal(args ...any) {
	s.l.Error(fmt.Sprint(args...))
	os.Exit(1)
}

package benchmark

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestBareQueueClearsEveryTime enqueues bare tasks and clears the queue,
// twice with the same client: each clear leaves no task behind, so that no
// task of a measurement is left for the next one's worker to count.
func TestBareQueueClearsEveryTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redisserver.T(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	q := NewBareQueue(asynq.RedisClientOpt{Addr: srv.Addr()}, "bench1")
	t.Cleanup(q.Close)
	for round := range 2 {
		for range 5 {
			if err := q.Enqueue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Clear(); err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
		keys, err := client.Keys(ctx, "asynq:{"+BareQueueName+"}:t:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			t.Errorf("round %d: %d tasks left after Clear", round+1, len(keys))
		}
	}
}

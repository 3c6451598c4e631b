package benchmark

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// asynqQueues is the set in which asynq lists the queues it knows.
const asynqQueues = "asynq:queues"

// deleteQueue deletes the asynq queue name, every task waiting in it and
// its counts of tasks processed and failed (in all, and of today and
// yesterday: a run may pass midnight); no worker may be running its tasks. An asynq.Client lists a queue in
// asynqQueues only on its first enqueue to it, and Inspector.DeleteQueue
// takes it off the list, so the queue is listed again first: else a second
// delete finds no queue and leaves the tasks enqueued since.
func deleteQueue(ctx context.Context, rc redis.UniversalClient, in *asynq.Inspector, name string) error {
	if err := rc.SAdd(ctx, asynqQueues, name).Err(); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	if err := in.DeleteQueue(name, true); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	prefix := "asynq:{" + name + "}:" // one hash slot: one DEL on a cluster too
	keys := []string{prefix + "processed", prefix + "failed"}
	for _, day := range []time.Time{time.Now(), time.Now().Add(-24 * time.Hour)} {
		d := day.UTC().Format(time.DateOnly)
		keys = append(keys, prefix+"processed:"+d, prefix+"failed:"+d)
	}
	if err := rc.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("delete queue %s: its counts: %w", name, err)
	}
	return nil
}

package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestBenchJobs runs the measurements of jobs briefly, without the worker
// memory and S3 ones: creditrun's figures, the bare asynq ones and the
// ungated peer's are there, and the peer leaves no task or key behind.
func TestBenchJobs(t *testing.T) {
	t.Parallel()
	srv := redisserver.T(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 32})
	t.Cleanup(func() { client.Close() })
	var fig benchmark.Figures
	o := benchOptions{goroutines: 4, duration: 300 * time.Millisecond, e2eJobs: 40, workerConcurrency: 4, skipMemory: true, skipS3: true}
	if err := benchJobs(context.Background(), client, srv.URL(), o, &fig, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{
		"submit_per_s": fig.SubmitPerS, "asynq_enqueue_per_s": fig.AsynqEnqueuePerS, "submit_ratio": fig.SubmitRatio,
		"e2e_per_s": fig.E2EPerS, "asynq_e2e_per_s": fig.AsynqE2EPerS, "e2e_ratio": fig.E2ERatio,
		"submit_p50_ms": fig.SubmitP50Ms, "submit_p99_ms": fig.SubmitP99Ms,
		"ungated_submit_per_s": fig.UngatedSubmitPerS, "submit_vs_ungated": fig.SubmitVsUngated,
		"ungated_e2e_per_s": fig.UngatedE2EPerS, "e2e_vs_ungated": fig.E2EVsUngated,
		"job_redis_cpu_us": fig.JobRedisCPUUS, "ungated_job_redis_cpu_us": fig.UngatedJobRedisCPUUS,
	} {
		if v <= 0 {
			t.Errorf("%s = %v, want it positive", name, v)
		}
	}
	var left []string
	for _, pattern := range []string{"crbench-ungated*", "asynq:{crbench-ungated}:*"} {
		keys, err := client.Keys(t.Context(), pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, keys...)
	}
	if len(left) > 0 {
		t.Errorf("the ungated peer left %d keys behind, such as %q", len(left), left[:min(len(left), 5)])
	}
}

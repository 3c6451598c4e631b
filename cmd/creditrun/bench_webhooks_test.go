package main

import (
	"context"
	"io"
	"testing"

	"github.com/creditrun/creditrun/internal/benchmark"
)

// TestBenchWebhooks runs the webhook measurement briefly: both rates and
// their ratio come out. (The ratio itself is the bench's to report, not a
// test's to assert: timing in tests is not trusted here.)
func TestBenchWebhooks(t *testing.T) {
	t.Parallel()
	var fig benchmark.Figures
	o := benchOptions{webhookJobs: 40, goroutines: 4, workerConcurrency: 4}
	if err := benchWebhooks(context.Background(), o, &fig, t.TempDir(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if fig.WebhookJobs != 40 || fig.WebhookOffJobsPerS <= 0 || fig.WebhookSlowJobsPerS <= 0 || fig.WebhookSlowRatio <= 0 {
		t.Fatalf("figures %+v", fig)
	}
}

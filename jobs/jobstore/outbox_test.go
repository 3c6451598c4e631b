package jobstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/events"
	"github.com/creditrun/creditrun/jobs"
)

// testOutboxEvents: a job that enters an ended status, by an update or by
// being created ended, writes job.<status> to the account's outbox in the
// same script; updates between statuses that have not ended, and updates
// of an ended job, write nothing.
func testOutboxEvents(t *testing.T, h *harness) {
	for _, id := range []string{"j1", "j2", "j3"} {
		h.create(h.job("acme", id, jobs.Download, 0), nil)
	}
	h.move("acme", "j1", jobs.Queued, jobs.Running)
	h.move("acme", "j1", jobs.Running, jobs.Succeeded)
	h.move("acme", "j1", jobs.Succeeded, jobs.Succeeded) // e.g. its files expire: no second event
	h.move("acme", "j2", jobs.Queued, jobs.Canceled)
	h.move("acme", "j3", jobs.Queued, jobs.Failed)
	done := h.job("acme", "j4", jobs.Enrichment, 0)
	done.Status = jobs.Succeeded
	h.create(done, nil)
	msgs, err := h.client.XRange(h.ctx, events.OutboxKey(h.prefix, "acme"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]any
	for _, m := range msgs {
		got = append(got, [2]any{m.Values["type"], m.Values["ref"]})
	}
	want := [][2]any{{"job.succeeded", "j1"}, {"job.canceled", "j2"}, {"job.failed", "j3"}, {"job.succeeded", "j4"}}
	if !cmp.Equal(got, want) {
		t.Fatalf("outbox (-got +want):\n%s", cmp.Diff(got, want))
	}
}

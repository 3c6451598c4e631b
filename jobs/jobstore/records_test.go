package jobstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
)

// replyBytes is a go-redis hook that counts the bytes of every command and
// its reply (the text of the command as go-redis shows it), so that a test
// can tell whether a call read a large value.
type replyBytes struct{ n atomic.Int64 }

func (b *replyBytes) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b *replyBytes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		b.n.Add(int64(len(cmd.String())))
		return err
	}
}

func (b *replyBytes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			b.n.Add(int64(len(c.String())))
		}
		return err
	}
}

// bigRecords is a search's inline records: n records of about 200 bytes.
func bigRecords(t *testing.T, job string, n int) json.RawMessage {
	t.Helper()
	recs := make([]map[string]string, n)
	for i := range recs {
		recs[i] = map[string]string{"id": fmt.Sprintf("%s-%04d", job, i), "name": strings.Repeat("x", 180)}
	}
	raw, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// testListOmitsRecords lists searches that succeeded with 1,000 inline
// records each: the list reads a few kilobytes, not the records, and Get
// still has them.
func testListOmitsRecords(t *testing.T, h *harness) {
	const n = 5
	want := map[string]json.RawMessage{}
	for i := range n {
		id := fmt.Sprintf("job_%02d", i)
		h.create(h.job("acme", id, jobs.Search, time.Duration(i)*time.Millisecond), nil)
		want[id] = bigRecords(t, id, 1000)
		_, err := h.store.Update(h.ctx, "acme", id, []jobs.Status{jobs.Queued}, func(j *jobs.Job) {
			j.Status, j.Records = jobs.Succeeded, want[id]
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A later update that leaves the records alone keeps them.
	if _, err := h.store.Update(h.ctx, "acme", "job_00", []jobs.Status{jobs.Succeeded}, func(j *jobs.Job) { j.Attempts++ }); err != nil {
		t.Fatal(err)
	}

	hook := &replyBytes{}
	h.client.AddHook(hook)
	page, _, err := h.store.List(h.ctx, "acme", jobs.ListFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	read := hook.n.Load()
	if len(page) != n {
		t.Fatalf("List: %d jobs, want %d", len(page), n)
	}
	for _, j := range page {
		if j.Records != nil {
			t.Errorf("List: job %s has %d bytes of records, want none", j.ID, len(j.Records))
		}
	}
	// Each job's records are about 200 KB; its record without them is under
	// a kilobyte.
	if limit := int64(n * 2048); read > limit {
		t.Errorf("List of %d jobs read %d bytes from Redis, want at most %d: it read the records", n, read, limit)
	}
	for id, w := range want {
		j, err := h.store.Get(h.ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(j.Records, w) {
			t.Errorf("Get %s: %d bytes of records, want the %d written", id, len(j.Records), len(w))
		}
	}
}

// testRecordsOfOldJobs reads a job written when its records were inside its
// JSON: Get has them, List does not, and the job's next update moves them
// to their own key.
func testRecordsOfOldJobs(t *testing.T, h *harness) {
	j := h.job("acme", "job_old", jobs.Search, 0)
	j.Status = jobs.Succeeded
	j.Records = bigRecords(t, "job_old", 3)
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.client.Set(h.ctx, h.key("acme", "job", "job_old"), raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := h.client.ZAdd(h.ctx, h.key("acme", "jobs"), redis.Z{Score: float64(j.CreatedAt.UnixMilli()), Member: "job_old"}).Err(); err != nil {
		t.Fatal(err)
	}

	got, err := h.store.Get(h.ctx, "acme", "job_old")
	if err != nil || !bytes.Equal(got.Records, j.Records) {
		t.Fatalf("Get of an old job: %d bytes of records (%v), want %d", len(got.Records), err, len(j.Records))
	}
	page, _, err := h.store.List(h.ctx, "acme", jobs.ListFilter{})
	if err != nil || len(page) != 1 || page[0].Records != nil {
		t.Fatalf("List of an old job: %d jobs, %d bytes of records (%v); want one without records", len(page), recordBytes(page), err)
	}

	if _, err := h.store.Update(h.ctx, "acme", "job_old", []jobs.Status{jobs.Succeeded}, func(j *jobs.Job) { j.Attempts++ }); err != nil {
		t.Fatal(err)
	}
	stored, err := h.client.Get(h.ctx, h.key("acme", "job", "job_old")).Bytes()
	if err != nil || bytes.Contains(stored, []byte(`"records"`)) {
		t.Errorf("the old job's key after an update: %d bytes (%v), want it without records", len(stored), err)
	}
	recs, err := h.client.Get(h.ctx, h.key("acme", "job", "job_old", "records")).Bytes()
	if err != nil || !bytes.Equal(recs, j.Records) {
		t.Errorf("the old job's records key after an update: %d bytes (%v), want %d", len(recs), err, len(j.Records))
	}
	if got, err := h.store.Get(h.ctx, "acme", "job_old"); err != nil || !bytes.Equal(got.Records, j.Records) || got.Attempts != 1 {
		t.Errorf("Get of the old job after an update: %d bytes of records, attempts %d (%v)", len(got.Records), got.Attempts, err)
	}
}

// recordBytes is the size of the records of a page of jobs.
func recordBytes(page []jobs.Job) int {
	n := 0
	for _, j := range page {
		n += len(j.Records)
	}
	return n
}

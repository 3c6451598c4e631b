package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/worker"
)

// TestUngatedRunsTheSearchesItIsSent submits searches over HTTP to the
// ungated peer and runs them with its worker: each job's records are the
// search's, written as creditrun writes a search's result, and the job is
// marked done; its tasks are as long as creditrun's job:run tasks.
func TestUngatedRunsTheSearchesItIsSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redisserver.T(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	redisOpt := asynq.RedisClientOpt{Addr: srv.Addr()}
	const account = "bench1234567890123456789"

	u, err := NewUngated(ctx, client, redisOpt, account, "crbench-ungated-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)

	sub := NewSubmitterTo(u.URL, "", 4)
	t.Cleanup(sub.Close)
	const n = 12
	for range n {
		if err := sub.Submit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ids := sub.IDs.Take()
	if len(ids) != n {
		t.Fatalf("%d job ids, want %d", len(ids), n)
	}
	info, err := u.inspector.GetTaskInfo(UngatedQueueName, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	want := len(sampleRunTask(account).Payload())
	if len(info.Payload) != want {
		t.Errorf("task payload of %d bytes, want %d as a job:run task's: %q", len(info.Payload), want, info.Payload)
	}

	cfg := dataset.GenerateConfig{Dir: t.TempDir(), People: 2_000, Seed: 1}
	if _, err := dataset.Generate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Open(ctx, cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	done := NewCounter(n)
	wsrv, h := u.Server(redisOpt, ds, 3, done)
	if err := wsrv.Start(h); err != nil {
		t.Fatal(err)
	}
	err = done.Wait(ctx)
	wsrv.Shutdown()
	if err != nil {
		t.Fatal(err)
	}

	var search struct {
		DataType   string `json:"data_type"`
		Query      string `json:"query"`
		NumRecords int    `json:"num_records"`
	}
	if err := json.Unmarshal([]byte(SearchBody), &search); err != nil {
		t.Fatal(err)
	}
	res, err := ds.Search(ctx, search.DataType, search.Query, search.NumRecords)
	if err != nil {
		t.Fatal(err)
	}
	var expected bytes.Buffer
	w := worker.NewRecordWriter(&expected, jobs.JSON, nil)
	for rec, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var records []json.RawMessage
	if err := json.Unmarshal(expected.Bytes(), &records); err != nil || len(records) != search.NumRecords {
		t.Fatalf("the search gives %d records (%v), want %d: the dataset is too small for the test", len(records), err, search.NumRecords)
	}
	for _, id := range ids {
		got, err := client.Get(ctx, u.ResultKey(id)).Bytes()
		if err != nil {
			t.Fatalf("job %s: result: %v", id, err)
		}
		if !bytes.Equal(got, expected.Bytes()) {
			t.Errorf("job %s: result %.200s, want %.200s", id, got, expected.Bytes())
		}
		if status, err := client.HGet(ctx, u.JobKey(id), "status").Result(); err != nil || status != "done" {
			t.Errorf("job %s: status %q (%v), want done", id, status, err)
		}
	}
	if err := u.Clear(); err != nil {
		t.Fatal(err)
	}
}

// TestUngatedRefusesABodyThatIsNotJSON: a bad body gets a 400 and queues
// nothing.
func TestUngatedRefusesABodyThatIsNotJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redisserver.T(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	redisOpt := asynq.RedisClientOpt{Addr: srv.Addr()}
	u, err := NewUngated(ctx, client, redisOpt, "bench1", "crbench-ungated-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	resp, err := NewSubmitterTo(u.URL, "", 1).client.Post(u.URL+"/v1/searches", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if n, err := client.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("%d keys after a refused submit (%v), want none", n, err)
	}
}

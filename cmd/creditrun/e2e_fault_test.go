//go:build linux

package main

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// uploadsOf lists the unfinished multipart uploads under prefix.
func uploadsOf(t *testing.T, b *storage.S3, prefix string) []string {
	t.Helper()
	out, err := b.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(b.Bucket()), Prefix: aws.String(prefix),
	})
	if err != nil {
		t.Fatalf("list multipart uploads under %s: %v", prefix, err)
	}
	var ups []string
	for _, u := range out.Uploads {
		ups = append(ups, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ups
}

// TestE2EStorageDownMidUpload runs `creditrun api` and a `creditrun worker`
// on a redis-server and a versitygw, and stops versitygw while a 300,000
// record CSV download is in the middle of its multipart upload. The upload
// fails and the task goes back to asynq for a retry; versitygw comes back.
// The job then ends, settled exactly once if it succeeded (its files hold
// every record) or with its reservation voided if it failed, and no
// multipart upload of the job is left behind in the bucket.
func TestE2EStorageDownMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the SDK's retries and a failed upload's abort timeout: about a minute")
	}
	t.Parallel()
	const people = 300_000
	ds := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: ds, People: people, Seed: 13}); err != nil {
		t.Fatal(err)
	}
	c, _ := startCluster(t, ds, 1)
	b := c.bucket(t)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: c.redis.Addr()})
	t.Cleanup(func() { inspector.Close() })

	acct, key := c.createAccount(t, "people-1k-99")
	c.setAvailable(t, acct, key, "people", people)
	j, m := c.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": people, "format": "csv"})
	if m.CreditsReserved != people || m.OverageReserved != 0 {
		t.Fatalf("meta %+v", m)
	}
	prefix := storage.JobPrefix(acct, j.ID)

	// Stop the server once the job's multipart upload has begun: its first
	// part is on its way and the rest of the file is still to come.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ups := uploadsOf(t, b, prefix); len(ups) > 0 {
			t.Logf("stopping versitygw during upload %v", ups)
			break
		}
		if cur, r := c.job(t, key, j.ID); ended(cur.Status) {
			t.Fatalf("the download ended before its upload could be cut: make it bigger: %s", r)
		}
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload of the job after 2 minutes")
		}
	}
	if err := c.gw.Stop(); err != nil {
		t.Fatal(err)
	}
	// The worker's upload fails (after the SDK's retries and the abort's
	// timeout), and asynq holds the task for a retry.
	var info *asynq.TaskInfo
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(pollEvery) {
		var err error
		info, err = inspector.GetTaskInfo(worker.QueueName, j.ID)
		if err != nil {
			t.Fatalf("task %s: %v", j.ID, err)
		}
		if info.Retried > 0 || info.LastErr != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s did not fail in 3 minutes with storage down: %+v", j.ID, info)
		}
	}
	t.Logf("with storage down, the task failed (%s, retried %d): %s", info.State, info.Retried, info.LastErr)
	if cur, r := c.job(t, key, j.ID); cur.Status == "succeeded" {
		t.Fatalf("the job succeeded with storage down: %s", r)
	}
	if err := c.gw.Restart(); err != nil {
		t.Fatal(err)
	}

	done, r := c.waitJob(t, key, j.ID, 3*time.Minute, "ended", func(j jobJSON) bool { return ended(j.Status) })
	t.Logf("after the restart, the job %s", done.Status)
	if ups := uploadsOf(t, b, prefix); len(ups) != 0 {
		t.Errorf("multipart uploads of the job left in the bucket: %v", ups)
	}
	objects := objectsOf(t, b, acct, j.ID)
	p := c.pool(t, key, "people")
	switch done.Status {
	case "succeeded":
		if done.TotalCost != people || done.CreditsReleased != 0 || p.Used != people || p.Reserved != 0 || p.Available != 0 {
			t.Errorf("succeeded: total_cost %d, released %d, pool %+v; want %d posted", done.TotalCost, done.CreditsReleased, p, people)
		}
		if len(objects) != len(done.Results) {
			t.Errorf("the bucket holds %v under the job, its results are %d files", objects, len(done.Results))
		}
		if lines := csvRecords(t, done.Results); lines != people {
			t.Errorf("%d records in the result files, want %d", lines, people)
		}
	case "failed":
		if done.TotalCost != 0 || p.Used != 0 || p.Reserved != 0 || p.Available != people {
			t.Errorf("failed: total_cost %d, pool %+v; want the reservation voided", done.TotalCost, p)
		}
		if len(objects) != 0 {
			t.Errorf("a failed job left objects: %v", objects)
		}
	default:
		t.Fatalf("job %s", r)
	}
	// One reservation, and at most one post: settled exactly once, and the
	// journal replays to the pool.
	c.checkJournal(t, acct, key)
}

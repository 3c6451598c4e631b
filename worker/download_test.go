package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/dataset"
	"github.com/creditrun/creditrun/storage"
)

// progressOnly is the Service of a run that records progress only (a
// download that charges no ids); any other call panics.
type progressOnly struct{ Service }

func (progressOnly) Progress(context.Context, string, string, jobs.Progress) error { return nil }

// stallingSource streams after records, says so, then waits for its ctx to
// end and fails with its error, as a long search that is canceled would.
type stallingSource struct {
	source.Source
	after   int
	reached chan struct{}
}

func (s *stallingSource) Search(ctx context.Context, dt, q string, limit int) (source.Results, error) {
	res, err := s.Source.Search(ctx, dt, q, limit)
	if err != nil {
		return res, err
	}
	inner := res.Records
	res.Records = func(yield func(source.Record, error) bool) {
		n := 0
		for rec, err := range inner {
			if err != nil || !yield(rec, nil) {
				return
			}
			if n++; n == s.after {
				close(s.reached)
				<-ctx.Done()
				yield(source.Record{}, ctx.Err())
				return
			}
		}
	}
	return res, nil
}

// TestDownloadCanceledMidwayAbortsUpload cancels a download encoded in
// parallel once its multipart upload to S3 (a real versitygw) has begun:
// the run returns the cancel, the upload is aborted (no parts, no object),
// and none of the encoding goroutines is left.
func TestDownloadCanceledMidwayAbortsUpload(t *testing.T) {
	const people = 60_000 // some 7 MB of CSV: more than one 5 MiB part
	dir := t.TempDir()
	if _, err := dataset.Generate(t.Context(), dataset.GenerateConfig{Dir: dir, People: people, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := dataset.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	srv := s3server.T(t)
	s3b, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket: "cancel", Endpoint: srv.Endpoint(), Region: srv.Region(), CreateBucket: true,
		PartSizeBytes: storage.MinPartSizeBytes,
		Credentials:   credentials.NewStaticCredentialsProvider(srv.AccessKey(), srv.SecretKey(), ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	src := &stallingSource{Source: d, after: 50_000, reached: make(chan struct{})}
	h := NewHandler(HandlerConfig{Service: progressOnly{}, Source: src, Storage: s3b, EncodeWorkers: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := &run{h: h, job: jobs.Job{ID: "job_1", Account: "acme", Kind: jobs.Download, DataType: source.People,
		Format: jobs.CSV, NumRecords: people}}
	key := storage.ResultKey("acme", "job_1", 1, jobs.CSV)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.run(ctx)
		done <- err
	}()
	<-src.reached
	uploads := func() int {
		out, err := s3b.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{
			Bucket: aws.String("cancel"), Prefix: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Uploads)
	}
	// The first part's bytes are written by now; wait for S3 to have the
	// upload (a safety net of a deadline, not a measure).
	for deadline := time.Now().Add(30 * time.Second); uploads() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the multipart upload did not begin")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	if n := uploads(); n != 0 {
		t.Fatalf("%d multipart uploads left after the cancel", n)
	}
	if _, err := s3b.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("cancel"), Key: &key}); err == nil {
		t.Fatal("a canceled download stored its file")
	}
	// The run waited for its goroutines before it returned.
	buf := make([]byte, 1<<20)
	if stacks := buf[:runtime.Stack(buf, true)]; bytes.Contains(stacks, []byte("(*parallelWriter)")) {
		t.Fatalf("encoding goroutines left after the run:\n%s", stacks)
	}
}

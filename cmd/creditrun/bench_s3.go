package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// benchS3Bucket is the bucket of the bench's own versitygw.
const benchS3Bucket = "creditrun-bench"

// benchWorkerMemoryLimit is the soft memory limit of the bench's worker
// (CREDITRUN_MEMORY_LIMIT), the one a worker in a container with a memory
// limit of about 72 MiB gets by default (90% of it). Without it, on a
// machine with no cgroup limit, the collector lets the heap grow to twice
// what is live.
const benchWorkerMemoryLimit = "64MiB"

// benchS3Timeout bounds the S3 measurement: starting versitygw, the worker
// process (which loads the dataset), the download and the bare upload.
const benchS3Timeout = 10 * time.Minute

// benchS3 measures issue 5's figures: a CSV download of o.downloadRecords
// people to S3 by a `creditrun worker` process (this binary, with
// CREDITRUN_S3_* set) on a versitygw of its own on loopback, against a bare
// transfer-manager upload of the same bytes (fetched back from the bucket to
// a temporary file) with the same part size and concurrency, and the
// worker's resident memory while it ran. Without versitygw it notes why in
// fig.S3Skipped and returns nil.
func benchS3(ctx context.Context, fig *benchmark.Figures, stack *benchmark.Stack, redisURL string, idx *benchIndex, tmp string, progress io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, benchS3Timeout)
	defer cancel()
	srv, err := s3server.Start(s3server.Options{})
	if errors.Is(err, s3server.ErrNotFound) {
		fig.S3Skipped = "versitygw is not installed (make test installs it)"
		fmt.Fprintf(progress, "bench: skipping S3: %v\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	s3, err := storage.NewS3(ctx, storage.S3Config{
		Bucket: benchS3Bucket, Endpoint: srv.Endpoint(), Region: srv.Region(), CreateBucket: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey(), srv.SecretKey(), ""),
	})
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	records := fig.S3DownloadRecords
	fmt.Fprintf(progress, "bench: worker process (memory limit %s) downloading %d records to S3\n", benchWorkerMemoryLimit, records)
	serverCPU0, err := benchmark.ProcessCPU(srv.Pid())
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	// The worker uses storage's default part size and concurrency, as
	// `creditrun worker` does in production; the bare upload copies them.
	dataDir := filepath.Join(tmp, "worker-s3")
	if err := idx.give(ctx, dataDir); err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	mem, err := benchmark.DownloadPeakRSS(ctx, benchmark.WorkerProcess{
		Command: []string{exe, "worker"}, RedisURL: redisURL, Dataset: idx.dataset,
		DataDir: dataDir,
		Env: []string{
			"CREDITRUN_S3_BUCKET=" + benchS3Bucket, "CREDITRUN_S3_ENDPOINT=" + srv.Endpoint(),
			"CREDITRUN_S3_REGION=" + srv.Region(), "CREDITRUN_MEMORY_LIMIT=" + benchWorkerMemoryLimit,
			"AWS_ACCESS_KEY_ID=" + srv.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey(),
			"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		},
	}, stack, records)
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	serverCPU1, err := benchmark.ProcessCPU(srv.Pid())
	if err != nil {
		return fmt.Errorf("bench s3: %w", err)
	}
	j := mem.Job
	if j.StartedAt == nil || j.FinishedAt == nil || len(j.Results) == 0 {
		return fmt.Errorf("bench s3: download %s succeeded without start, end or files", j.ID)
	}
	ours := j.FinishedAt.Sub(*j.StartedAt)

	fmt.Fprintln(progress, "bench: bare transfer-manager upload of the same bytes")
	bare := benchmark.NewBareUploader(s3.Client(), benchS3Bucket, storage.DefaultPartSizeBytes, storage.DefaultS3Concurrency)
	tags := url.Values{storage.HoldTag: {storage.HoldNone}}.Encode()
	var bareTime, bareCPU, bareServerCPU time.Duration
	var bytes int64
	for i, f := range j.Results {
		path := filepath.Join(tmp, fmt.Sprintf("s3-bare-%d", i))
		if err := bare.Fetch(ctx, f.Key, path); err != nil {
			return fmt.Errorf("bench s3: %w", err)
		}
		self0, err0 := benchmark.SelfCPU()
		server0, err1 := benchmark.ProcessCPU(srv.Pid())
		d, err2 := bare.Upload(ctx, path, fmt.Sprintf("bare/%d.%s", i, f.Format), tags, worker.ContentType(f.Format))
		self1, err3 := benchmark.SelfCPU()
		server1, err4 := benchmark.ProcessCPU(srv.Pid())
		if err := errors.Join(err0, err1, err2, err3, err4, os.Remove(path)); err != nil {
			return fmt.Errorf("bench s3: %w", err)
		}
		bareTime += d
		bareCPU += self1 - self0
		bareServerCPU += server1 - server0
		bytes += f.Bytes
	}

	mb := func(b int64) float64 { return benchmark.Round(float64(b)/(1<<20), 1) }
	fig.S3DownloadRatio = benchmark.Ratio(bareTime.Seconds(), ours.Seconds())
	fig.S3DownloadRSSMB = mb(mem.DuringRSS)
	fig.S3DownloadMB = mb(bytes)
	fig.S3DownloadParts = len(j.Results)
	fig.S3DownloadSeconds = benchmark.Round(ours.Seconds(), 2)
	fig.S3BareUploadSeconds = benchmark.Round(bareTime.Seconds(), 2)
	fig.S3DownloadLoadedRSSMB = mb(mem.SubmitRSS)
	fig.S3DownloadLoadedPeakRSSMB = mb(mem.LoadedRSS)
	fig.S3DownloadRSSGrowthMB = mb(mem.DuringRSS - mem.SubmitRSS)
	fig.S3DownloadAnonRSSMB = mb(mem.DuringAnonRSS)
	fig.S3DownloadWorkerCPUS = benchmark.Round(mem.CPU.Seconds(), 2)
	fig.S3DownloadServerCPUS = benchmark.Round((serverCPU1 - serverCPU0).Seconds(), 2)
	fig.S3BareUploadCPUS = benchmark.Round(bareCPU.Seconds(), 2)
	fig.S3BareUploadServerCPUS = benchmark.Round(bareServerCPU.Seconds(), 2)
	return nil
}

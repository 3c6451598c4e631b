package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source/dataset"
)

// benchSearchDataset is the dataset the end-to-end searches run on, in process:
// small, so that it loads in a moment.
var benchSearchDataset = dataset.GenerateConfig{People: 20_000, Seed: 1}

// smallDownload is the download whose worker memory the large one is
// compared with.
const smallDownload = 10_000

// benchJobs measures issue 4's and 5's figures: submits over HTTP against bare
// asynq enqueues, their latency at half the peak rate, jobs end to end
// against bare asynq with a no-op handler, and the peak memory of a worker
// process streaming a large download against a small one; then (benchS3) a
// large download to S3 against a bare transfer-manager upload.
func benchJobs(ctx context.Context, client redis.UniversalClient, url string, o benchOptions, fig *benchmark.Figures, progress io.Writer) (err error) {
	target, err := parseRedisURL(url)
	if err != nil {
		return err
	}
	redisOpt := target.asynq()
	tmp, err := os.MkdirTemp("", "creditrun-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	log := slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stack, err := benchmark.NewStack(ctx, benchmark.StackConfig{
		Redis: client, Asynq: redisOpt, Account: fmt.Sprintf("bench%d", time.Now().UnixNano()),
		ResultsDir: filepath.Join(tmp, "results"), Logger: log,
	})
	if err != nil {
		return err
	}
	defer stack.Close()
	sub := benchmark.NewSubmitter(stack, 4*o.goroutines)
	defer sub.Close()
	bare := benchmark.NewBareQueue(redisOpt, stack.Account)
	defer bare.Close()
	defer func() { err = errors.Join(err, bare.Clear()) }()
	ungated, err := newUngatedPeer(ctx, client, redisOpt, stack.Account, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ungated.close(context.WithoutCancel(ctx))) }()
	// Tasks that a measurement queued and no worker is to run.
	dropQueued := func() error {
		return stack.DeleteTasks(ctx, sub.IDs.Take(), o.goroutines)
	}

	meter := benchmark.NewCPUMeter(client)
	fmt.Fprintln(progress, "bench: submits, bare enqueues and ungated submits")
	if err := submitThroughput(ctx, o, fig, meter, sub, bare, ungated, dropQueued); err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench: submit latency at %.0f/s\n", fig.SubmitPerS/2)
	if err := submitLatency(ctx, o, fig, sub, bare, dropQueued); err != nil {
		return err
	}
	fmt.Fprintln(progress, "bench: end to end")
	if err := endToEnd(ctx, o, fig, meter, stack, sub, bare, ungated, redisOpt, tmp); err != nil {
		return err
	}
	if o.skipMemory && o.skipS3 {
		return nil
	}
	dir := filepath.Join(tmp, "download-dataset")
	fmt.Fprintf(progress, "bench: generating %d people\n", o.downloadRecords)
	if _, err := dataset.Generate(ctx, dataset.GenerateConfig{Dir: dir, People: int(o.downloadRecords), Seed: 1}); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	idx := &benchIndex{dataset: dir, dir: filepath.Join(tmp, "download-index")}
	if err := benchQuote(ctx, client, o, fig, stack, idx, tmp, progress); err != nil {
		return err
	}
	if !o.skipMemory {
		if err := workerMemory(ctx, o, fig, stack, url, idx, tmp, progress); err != nil {
			return err
		}
	}
	if o.skipS3 {
		fig.S3Skipped = "--skip-s3"
		return nil
	}
	fig.S3DownloadRecords = o.downloadRecords
	return benchS3(ctx, fig, stack, url, idx, tmp, progress)
}

// submitThroughput measures submits against bare enqueues and ungated
// submits, alternating them, after a short warm-up of each, with the CPU
// time each takes.
func submitThroughput(ctx context.Context, o benchOptions, fig *benchmark.Figures, m benchmark.CPUMeter, sub *benchmark.Submitter, bare *benchmark.BareQueue,
	ungated *ungatedPeer, dropQueued func() error) error {
	var creditrun, asynqOnly, ungatedOnly measured
	for round := range 3 {
		d := o.duration / 2
		if round == 0 {
			d = o.duration / 10 // warm-up: connections, scripts loaded
		}
		warm := round > 0
		err := creditrun.measure(ctx, m, warm, func() (int64, time.Duration, error) {
			var (
				n       int64
				elapsed time.Duration
				err     error
			)
			perr := profile(o, "submit", round == 2, func() {
				n, elapsed, err = benchmark.Run(ctx, o.goroutines, d, sub.Submit)
			})
			return n, elapsed, errors.Join(err, perr)
		})
		if err == nil {
			err = dropQueued()
		}
		if err != nil {
			return fmt.Errorf("bench submit: %w", err)
		}
		err = asynqOnly.measure(ctx, m, warm, func() (int64, time.Duration, error) {
			return benchmark.Run(ctx, o.goroutines, d, bare.Enqueue)
		})
		if err == nil {
			err = bare.Clear()
		}
		if err != nil {
			return fmt.Errorf("bench asynq enqueue: %w", err)
		}
		err = ungatedOnly.measure(ctx, m, warm, func() (int64, time.Duration, error) {
			return benchmark.Run(ctx, o.goroutines, d, ungated.sub.Submit)
		})
		if err == nil {
			err = ungated.dropQueued()
		}
		if err != nil {
			return fmt.Errorf("bench ungated submit: %w", err)
		}
	}
	fig.SubmitPerS = benchmark.Round(creditrun.rate(), 0)
	fig.AsynqEnqueuePerS = benchmark.Round(asynqOnly.rate(), 0)
	fig.SubmitRatio = benchmark.Ratio(creditrun.rate(), asynqOnly.rate())
	fig.SubmitCPUUS, fig.SubmitRedisCPUUS = creditrun.cpu.PerOp(creditrun.n)
	fig.AsynqEnqueueCPUUS, fig.AsynqEnqueueRedisCPUUS = asynqOnly.cpu.PerOp(asynqOnly.n)
	fig.UngatedSubmitPerS = benchmark.Round(ungatedOnly.rate(), 0)
	fig.SubmitVsUngated = benchmark.Ratio(creditrun.rate(), ungatedOnly.rate())
	fig.UngatedSubmitCPUUS, fig.UngatedSubmitRedisCPUUS = ungatedOnly.cpu.PerOp(ungatedOnly.n)
	return nil
}

// measured adds up the operations, time and CPU time of measurements.
type measured struct {
	n       int64
	elapsed time.Duration
	cpu     benchmark.CPUTime
}

// measure runs fn, which returns the operations it made and the time they
// took, and adds them up when count is set.
func (m *measured) measure(ctx context.Context, meter benchmark.CPUMeter, count bool, fn func() (int64, time.Duration, error)) error {
	before, err := meter.Now(ctx)
	if err != nil {
		return err
	}
	n, elapsed, err := fn()
	if err != nil {
		return err
	}
	after, err := meter.Now(ctx)
	if err != nil || !count {
		return err
	}
	m.n += n
	m.elapsed += elapsed
	used := after.Sub(before)
	m.cpu.Self += used.Self
	m.cpu.Redis += used.Redis
	return nil
}

func (m *measured) rate() float64 {
	if m.elapsed <= 0 {
		return 0
	}
	return float64(m.n) / m.elapsed.Seconds()
}

// profile runs fn, under the CPU profiler when --cpuprofile is set and on
// is true, writing the profile to <prefix>-<name>.pprof.
func profile(o benchOptions, name string, on bool, fn func()) error {
	if o.cpuProfile == "" || !on {
		fn()
		return nil
	}
	f, err := os.Create(o.cpuProfile + "-" + name + ".pprof")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	fn()
	pprof.StopCPUProfile()
	return f.Close()
}

// submitLatency measures submits at half the peak rate, paced open-loop,
// and bare enqueues at the same rate: the floor that the machine's own
// scheduling puts under any latency here.
func submitLatency(ctx context.Context, o benchOptions, fig *benchmark.Figures, sub *benchmark.Submitter, bare *benchmark.BareQueue, dropQueued func() error) error {
	rate := fig.SubmitPerS / 2
	lat, err := benchmark.OpenLoop(ctx, rate, o.duration, sub.Submit)
	if err == nil {
		err = dropQueued()
	}
	if err != nil {
		return fmt.Errorf("bench submit latency: %w", err)
	}
	bareLat, err := benchmark.OpenLoop(ctx, rate, o.duration, bare.Enqueue)
	if err == nil {
		err = bare.Clear()
	}
	if err != nil {
		return fmt.Errorf("bench asynq enqueue latency: %w", err)
	}
	for _, p := range []struct {
		lat []time.Duration
		pct float64
		to  *float64
	}{
		{lat, 50, &fig.SubmitP50Ms}, {lat, 99, &fig.SubmitP99Ms}, {lat, 99.9, &fig.SubmitP999Ms}, {lat, 100, &fig.SubmitMaxMs},
		{bareLat, 50, &fig.AsynqEnqueueP50Ms}, {bareLat, 99, &fig.AsynqEnqueueP99Ms},
	} {
		v, err := benchmark.Percentile(p.lat, p.pct)
		if err != nil {
			return fmt.Errorf("bench submit latency: %w", err)
		}
		*p.to = benchmark.Millis(v)
	}
	fig.LatencyRatePerS = benchmark.Round(rate, 0)
	fig.LatencyRequests = len(lat)
	return nil
}

// endToEnd measures search jobs submitted and run to the end by a creditrun
// worker in this process, against the same searches submitted to the
// ungated peer and run by its worker, and bare enqueues run by a no-op
// handler, the same count of each, with the same concurrency.
func endToEnd(ctx context.Context, o benchOptions, fig *benchmark.Figures, m benchmark.CPUMeter, stack *benchmark.Stack, sub *benchmark.Submitter,
	bare *benchmark.BareQueue, ungated *ungatedPeer, redisOpt asynq.RedisConnOpt, tmp string) error {
	cfg := benchSearchDataset
	cfg.Dir = filepath.Join(tmp, "e2e-dataset")
	if _, err := dataset.Generate(ctx, cfg); err != nil {
		return fmt.Errorf("bench e2e: %w", err)
	}
	ds, err := dataset.Open(ctx, cfg.Dir)
	if err != nil {
		return fmt.Errorf("bench e2e: %w", err)
	}
	defer ds.Close()

	done := benchmark.NewCounter(o.e2eJobs)
	srv, h := stack.Worker(ds, o.workerConcurrency)
	counting := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if err := h.ProcessTask(ctx, t); err != nil {
			done.Fail(fmt.Errorf("job:run: %w", err))
			return err
		}
		done.Add()
		return nil
	})
	var creditrun, asynqOnly, ungatedOnly measured
	err = creditrun.measure(ctx, m, true, func() (int64, time.Duration, error) {
		var (
			elapsed time.Duration
			err     error
		)
		perr := profile(o, "e2e", true, func() {
			elapsed, err = drain(ctx, o, sub.Submit, srv, counting, done)
		})
		return int64(o.e2eJobs), elapsed, errors.Join(err, perr)
	})
	sub.IDs.Take() // run, not to delete
	if err != nil {
		return fmt.Errorf("bench e2e: %w", err)
	}
	if err := ungatedEndToEnd(ctx, o, m, ungated, redisOpt, ds, &ungatedOnly); err != nil {
		return err
	}

	bareDone := benchmark.NewCounter(o.e2eJobs)
	bsrv, bh := bare.Server(redisOpt, o.workerConcurrency, bareDone)
	err = asynqOnly.measure(ctx, m, true, func() (int64, time.Duration, error) {
		elapsed, err := drain(ctx, o, bare.Enqueue, bsrv, bh, bareDone)
		return int64(o.e2eJobs), elapsed, err
	})
	if err != nil {
		return fmt.Errorf("bench asynq e2e: %w", err)
	}
	fig.E2EJobs = o.e2eJobs
	fig.WorkerConcurrency = o.workerConcurrency
	fig.E2EPerS = benchmark.Round(creditrun.rate(), 0)
	fig.AsynqE2EPerS = benchmark.Round(asynqOnly.rate(), 0)
	fig.E2ERatio = benchmark.Ratio(creditrun.rate(), asynqOnly.rate())
	fig.E2ECPUUS, fig.E2ERedisCPUUS = creditrun.cpu.PerOp(creditrun.n)
	fig.AsynqE2ECPUUS, fig.AsynqE2ERedisCPUUS = asynqOnly.cpu.PerOp(asynqOnly.n)
	fig.UngatedE2EPerS = benchmark.Round(ungatedOnly.rate(), 0)
	fig.E2EVsUngated = benchmark.Ratio(creditrun.rate(), ungatedOnly.rate())
	fig.JobRedisCPUUS = fig.E2ERedisCPUUS
	fig.UngatedE2ECPUUS, fig.UngatedJobRedisCPUUS = ungatedOnly.cpu.PerOp(ungatedOnly.n)
	return nil
}

// drain runs benchmark.Drain with srv as the consumer, shuts srv down, and
// returns the time from the first task produced to the last done.
func drain(ctx context.Context, o benchOptions, produce func(context.Context) error, srv *asynq.Server, h asynq.Handler, done *benchmark.Counter) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	started := false
	elapsed, err := benchmark.Drain(ctx, o.e2eJobs, o.goroutines, produce, func() error {
		started = true
		return srv.Start(h)
	}, done)
	if started {
		srv.Shutdown()
	}
	return elapsed, err
}

// workerMemory measures the peak resident memory of a `creditrun worker`
// process (this binary) streaming a download of o.downloadRecords people to
// the local backend, against one of smallDownload, each in a process of
// its own on the generated dataset of idx, with its index built beforehand.
func workerMemory(ctx context.Context, o benchOptions, fig *benchmark.Figures, stack *benchmark.Stack, url string, idx *benchIndex, tmp string, progress io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench worker memory: %w", err)
	}
	for _, run := range []struct {
		records             int64
		rssMB, loaded, anon *float64
	}{
		{smallDownload, &fig.DownloadRSSMB10k, &fig.DownloadLoadedRSSMB10k, &fig.DownloadAnonRSSMB10k},
		{o.downloadRecords, &fig.DownloadRSSMB1M, &fig.DownloadLoadedRSSMB1M, &fig.DownloadAnonRSSMB1M},
	} {
		fmt.Fprintf(progress, "bench: worker process downloading %d records\n", run.records)
		dataDir := filepath.Join(tmp, fmt.Sprintf("worker-%d", run.records))
		if err := idx.give(ctx, dataDir); err != nil {
			return fmt.Errorf("bench worker memory: %w", err)
		}
		mem, err := benchmark.DownloadPeakRSS(ctx, benchmark.WorkerProcess{
			Command: []string{exe, "worker"}, RedisURL: url, Dataset: idx.dataset, DataDir: dataDir,
		}, stack, run.records)
		if rmErr := os.RemoveAll(dataDir); err == nil {
			err = rmErr
		}
		if err != nil {
			return fmt.Errorf("bench worker memory: %w", err)
		}
		*run.rssMB = benchmark.Round(float64(mem.PeakRSS)/(1<<20), 1)
		*run.loaded = benchmark.Round(float64(mem.LoadedRSS)/(1<<20), 1)
		*run.anon = benchmark.Round(float64(mem.DuringAnonRSS)/(1<<20), 1)
		if run.records == o.downloadRecords {
			fig.DownloadRecords = run.records
			fig.DownloadMB, fig.DownloadSeconds = downloadSize(mem.Job)
		}
	}
	return nil
}

// downloadSize returns the megabytes a download wrote and the seconds it ran.
func downloadSize(j jobs.Job) (mb, seconds float64) {
	var n int64
	for _, f := range j.Results {
		n += f.Bytes
	}
	if j.StartedAt != nil && j.FinishedAt != nil {
		seconds = benchmark.Round(j.FinishedAt.Sub(*j.StartedAt).Seconds(), 2)
	}
	return benchmark.Round(float64(n)/(1<<20), 1), seconds
}

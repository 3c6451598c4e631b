package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/source/dataset"
)

// slowReceiverDelay is how long the slow webhook receiver of the bench takes
// to answer each post.
const slowReceiverDelay = 5 * time.Second

// benchWebhooks measures search jobs per second run end to end (submitted
// over HTTP, run by the worker, until every one has ended) by `creditrun
// all` in this process, on a redis-server of its own, without a webhook
// endpoint and then with one that hears job.succeeded and answers each post
// after 5 seconds; the same count of jobs each time, in rounds that
// alternate. The ratio is the rate with the slow endpoint / the rate
// without: deliveries run on their own queue and places, so it should stay
// near 1.
func benchWebhooks(ctx context.Context, o benchOptions, fig *benchmark.Figures, tmp string, progress io.Writer) (err error) {
	srv, err := redisserver.Start(redisserver.Options{})
	if err != nil {
		return fmt.Errorf("bench webhooks: %w", err)
	}
	defer srv.Close()
	dir := filepath.Join(tmp, "webhook-dataset")
	if _, err := dataset.Generate(ctx, dataset.GenerateConfig{Dir: dir, People: 2000, Seed: 5}); err != nil {
		return fmt.Errorf("bench webhooks: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	cfg := config{HTTPAddr: addr, RedisURL: srv.URL(), AdminKey: "cr_admin_" + hex.EncodeToString(b), Dataset: dir,
		DataDir: filepath.Join(tmp, "webhook-data"), S3Region: "us-east-1", WorkerConcurrency: o.workerConcurrency,
		ResultTTL: time.Hour, LinkTTL: time.Minute, PartRecords: 1_000_000, WebhookAllowPrivate: true, WebhookConcurrency: 10}
	if err := cfg.validate(); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serveWith(sctx, cfg, cfg.RedisURL, roles{api: true, worker: true, scheduler: true}, io.Discard, ready, nil)
	}()
	defer func() {
		stop()
		err = errors.Join(err, <-errc)
	}()
	select {
	case <-ready:
	case err := <-errc:
		errc <- nil
		return fmt.Errorf("bench webhooks: creditrun did not start: %w", err)
	}
	c := &benchHTTP{base: publicURL(addr), admin: cfg.AdminKey}

	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(slowReceiverDelay):
		case <-r.Context().Done():
		}
	})}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = slow.Serve(sl) }()
	defer slow.Close()

	var out struct {
		Account struct {
			ID string `json:"id"`
		} `json:"account"`
		APIKey string `json:"api_key"`
	}
	if err := c.do(ctx, "POST", "/v1/accounts", c.admin, map[string]any{"name": "bench", "plans": []string{"people-1k-99"}}, 201, &out); err != nil {
		return err
	}
	if err := c.do(ctx, "POST", "/v1/accounts/"+out.Account.ID+"/credits", c.admin,
		map[string]any{"pool": "people", "amount": 1 << 40, "reason": "bench"}, 200, nil); err != nil {
		return err
	}
	n := o.webhookJobs
	fmt.Fprintf(progress, "bench: %d jobs to warm up\n", max(n/4, 1))
	if _, err := c.runJobs(ctx, out.APIKey, max(n/4, 1), o.goroutines); err != nil {
		return err
	}
	var off, on float64
	const rounds = 2
	for round := range rounds {
		fmt.Fprintf(progress, "bench: %d jobs without a webhook endpoint, round %d\n", n, round+1)
		r, err := c.runJobs(ctx, out.APIKey, n, o.goroutines)
		if err != nil {
			return err
		}
		off += r / rounds
		var ep struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, "POST", "/v1/webhooks", out.APIKey, map[string]any{"url": "http://" + sl.Addr().String() + "/hook",
			"events": []string{"job.succeeded"}}, 201, &ep); err != nil {
			return err
		}
		fmt.Fprintf(progress, "bench: %d jobs with an endpoint that answers after %s, round %d\n", n, slowReceiverDelay, round+1)
		if r, err = c.runJobs(ctx, out.APIKey, n, o.goroutines); err != nil {
			return err
		}
		on += r / rounds
		if err := c.do(ctx, "DELETE", "/v1/webhooks/"+ep.ID, out.APIKey, nil, 200, nil); err != nil {
			return err
		}
	}
	fig.WebhookJobs = n
	fig.WebhookOffJobsPerS = math.Round(off)
	fig.WebhookSlowJobsPerS = math.Round(on)
	fig.WebhookSlowRatio = benchmark.Ratio(on, off)
	return nil
}

// benchHTTP calls the API of the bench's own creditrun.
type benchHTTP struct {
	base, admin string
}

func (c *benchHTTP) do(ctx context.Context, method, path, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("bench webhooks: %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// runJobs submits n one-record searches from g goroutines and waits until
// none is queued or running; it returns jobs per second from the first
// submit to the last end.
func (c *benchHTTP) runJobs(ctx context.Context, key string, n, g int) (float64, error) {
	start := time.Now()
	var mu sync.Mutex
	left := n
	eg, ectx := errgroup.WithContext(ctx)
	for range g {
		eg.Go(func() error {
			for {
				mu.Lock()
				if left == 0 {
					mu.Unlock()
					return nil
				}
				left--
				mu.Unlock()
				if err := c.do(ectx, "POST", "/v1/searches", key, map[string]any{"data_type": "people", "query": "*",
					"num_records": 1}, 202, nil); err != nil {
					return err
				}
			}
		})
	}
	if err := eg.Wait(); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		busy := false
		for _, st := range []string{"queued", "running"} {
			var page struct {
				Jobs []json.RawMessage `json:"jobs"`
			}
			if err := c.do(ctx, "GET", "/v1/jobs?limit=1&status="+st, key, nil, 200, &page); err != nil {
				return 0, err
			}
			busy = busy || len(page.Jobs) > 0
		}
		if !busy {
			return float64(n) / time.Since(start).Seconds(), nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("bench webhooks: jobs still running after 10 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// benchWebhooksIn runs benchWebhooks in a temporary directory of its own.
func benchWebhooksIn(ctx context.Context, o benchOptions, fig *benchmark.Figures, progress io.Writer) error {
	tmp, err := os.MkdirTemp("", "creditrun-bench-webhooks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	return benchWebhooks(ctx, o, fig, tmp, progress)
}

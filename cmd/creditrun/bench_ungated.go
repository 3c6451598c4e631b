package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/source"
)

// ungatedPeer is the peer a user would write instead of creditrun
// (benchmark.Ungated) and its HTTP clients, as many as creditrun's.
type ungatedPeer struct {
	*benchmark.Ungated
	sub    *benchmark.Submitter
	client redis.UniversalClient
}

// newUngatedPeer starts the ungated peer on the bench's Redis, with
// payloads as long as a job:run task of account. close stops it and deletes
// its queue and keys.
func newUngatedPeer(ctx context.Context, client redis.UniversalClient, redisOpt asynq.RedisConnOpt, account string, o benchOptions) (*ungatedPeer, error) {
	u, err := benchmark.NewUngated(ctx, client, redisOpt, account, fmt.Sprintf("crbench-ungated%d", time.Now().UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &ungatedPeer{Ungated: u, sub: benchmark.NewSubmitterTo(u.URL, "", 4*o.goroutines), client: client}, nil
}

// dropQueued deletes the tasks an ungated measurement queued and no worker
// is to run.
func (p *ungatedPeer) dropQueued() error {
	p.sub.IDs.Take()
	return p.Clear()
}

// close stops the peer and deletes its queue and the keys its worker wrote.
func (p *ungatedPeer) close(ctx context.Context) error {
	err := errors.Join(p.Clear(), deletePrefix(ctx, p.client, p.Prefix))
	p.sub.Close()
	p.Close()
	return err
}

// ungatedEndToEnd measures o.e2eJobs ungated submits run to the end by the
// ungated worker on src, with the bench workers' concurrency.
func ungatedEndToEnd(ctx context.Context, o benchOptions, m benchmark.CPUMeter, p *ungatedPeer, redisOpt asynq.RedisConnOpt, src source.Source, into *measured) error {
	done := benchmark.NewCounter(o.e2eJobs)
	srv, h := p.Server(redisOpt, src, o.workerConcurrency, done)
	err := into.measure(ctx, m, true, func() (int64, time.Duration, error) {
		elapsed, err := drain(ctx, o, p.sub.Submit, srv, h, done)
		return int64(o.e2eJobs), elapsed, err
	})
	p.sub.IDs.Take() // run, not to delete
	if err != nil {
		return fmt.Errorf("bench ungated e2e: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/webhook"
)

// webhookStore is the store of webhook endpoints and deliveries, its
// secrets sealed under CREDITRUN_WEBHOOK_KEY when that is set.
func (a *app) webhookStore() (*webhook.Store, error) {
	s, err := webhook.NewStore(a.redis, webhook.StoreOptions{SecretKey: a.cfg.WebhookKey, NowFunc: a.now})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return s, nil
}

// webhookService is what the API needs of webhooks: the store, and the
// queue that retries go to.
func (a *app) webhookService() (*webhook.Service, error) {
	s, err := a.webhookStore()
	if err != nil {
		return nil, err
	}
	c := asynq.NewClient(a.asynqOpt)
	a.closers = append(a.closers, func() { c.Close() })
	return webhook.NewService(s, c), nil
}

// runWebhooks runs, in the worker role, the relay that moves the accounts'
// outboxes into delivery tasks and the asynq server that delivers them, on
// their own queue and with their own concurrency, so that a slow receiver
// never holds a job's place. Several workers relay at once harmlessly: a
// delivery's task id is its message id and endpoint.
func (a *app) runWebhooks(ctx context.Context) error {
	store, err := a.webhookStore()
	if err != nil {
		return err
	}
	m, err := webhook.NewMetrics(a.registry)
	if err != nil {
		return err
	}
	c := asynq.NewClient(a.asynqOpt)
	defer c.Close()
	relay, err := webhook.NewRelay(webhook.RelayConfig{Client: a.redis, Store: store, Enqueue: c, Logger: a.log, Metrics: m,
		Inspector: a.tasks,
		DataFunc: func(ctx context.Context, e webhook.Event) (any, error) {
			return api.EventData(ctx, a.svc, a.ledger.Hold, e.Type, e.Account, e.Ref)
		}})
	if err != nil {
		return err
	}
	d, err := webhook.NewDeliverer(webhook.DelivererConfig{Store: store, AllowPrivate: a.cfg.WebhookAllowPrivate,
		NowFunc: a.now, Logger: a.log, Metrics: m})
	if err != nil {
		return err
	}
	srv := webhook.NewServer(a.asynqOpt, a.cfg.WebhookConcurrency, d)
	mux := asynq.NewServeMux()
	mux.Handle(webhook.TaskType, d)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("webhook deliveries: %w", err)
	}
	defer srv.Shutdown()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return relay.Run(ctx) })
	return g.Wait()
}

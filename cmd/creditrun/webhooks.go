package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

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

// runWebhookRelay runs, in the scheduler role, the relay that moves the
// accounts' outboxes into delivery tasks. It reads every account's outbox
// on each pass, so it runs where few replicas do; several relays at once
// are harmless all the same: a delivery's task id is its message id and
// endpoint.
func (a *app) runWebhookRelay(ctx context.Context) error {
	store, err := a.webhookStore()
	if err != nil {
		return err
	}
	m, err := a.webhookMetrics()
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
	return relay.Run(ctx)
}

// runWebhookDeliveries runs, in the worker role, the asynq server that
// delivers webhooks, on its own queue and with its own concurrency, so that
// a slow receiver never holds a job's place.
func (a *app) runWebhookDeliveries(ctx context.Context) error {
	store, err := a.webhookStore()
	if err != nil {
		return err
	}
	m, err := a.webhookMetrics()
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
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// webhookMetrics returns the webhook metrics of the app's registry,
// registered once: `creditrun all` runs the relay and the deliveries on one
// registry.
func (a *app) webhookMetrics() (*webhook.Metrics, error) {
	webhookMetricsMu.Lock()
	defer webhookMetricsMu.Unlock()
	if m, ok := webhookMetricsOf[a.registry]; ok {
		return m, nil
	}
	m, err := webhook.NewMetrics(a.registry)
	if err != nil {
		return nil, err
	}
	webhookMetricsOf[a.registry] = m
	return m, nil
}

var (
	webhookMetricsMu sync.Mutex
	webhookMetricsOf = map[*prometheus.Registry]*webhook.Metrics{}
)

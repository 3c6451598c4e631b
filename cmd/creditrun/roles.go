package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/api"
)

// runAPIRole runs `creditrun api`: the HTTP API alone.
func runAPIRole(ctx context.Context, args []string) error {
	return runRoles(ctx, "api", args, roles{api: true})
}

// runWorkerRole runs `creditrun worker`: asynq workers, and /healthz,
// /readyz and /metrics on the HTTP address.
func runWorkerRole(ctx context.Context, args []string) error {
	return runRoles(ctx, "worker", args, roles{worker: true})
}

// runSchedulerRole runs `creditrun scheduler`: the cron entries, and
// /healthz, /readyz and /metrics on the HTTP address.
func runSchedulerRole(ctx context.Context, args []string) error {
	return runRoles(ctx, "scheduler", args, roles{scheduler: true})
}

// runAll runs `creditrun all`: the API, the worker and the scheduler in one
// process, against the configured Redis and storage.
func runAll(ctx context.Context, args []string) error {
	return runRoles(ctx, "all", args, roles{api: true, worker: true, scheduler: true})
}

type roles struct{ api, worker, scheduler bool }

func runRoles(ctx context.Context, name string, args []string, r roles) error {
	cfg, err := envConfig(name, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.api {
		if err := checkAdminKey(cfg.AdminKey); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if cfg.RedisURL == "" {
		return fmt.Errorf("%s: CREDITRUN_REDIS_URL is required (only `creditrun dev` runs an embedded Redis)", name)
	}
	if r.worker && cfg.Dataset == "" {
		return fmt.Errorf("%s: CREDITRUN_DATASET is required for workers (`creditrun dataset generate` makes one)", name)
	}
	applyMemoryLimit(cfg.MemoryLimitBytes, os.Getenv("GOMEMLIMIT"), newLogger())
	return serve(ctx, cfg, cfg.RedisURL, r, os.Stdout, nil)
}

// serve runs the roles of one process until ctx ends. ready, if not nil,
// receives the HTTP address once it listens.
func serve(ctx context.Context, cfg config, redisURL string, r roles, out io.Writer, ready chan<- string) error {
	return serveWith(ctx, cfg, redisURL, r, out, ready, nil)
}

// serveWith is serve with setup, run once the API is built and before it
// listens.
func serveWith(ctx context.Context, cfg config, redisURL string, r roles, out io.Writer, ready chan<- string,
	setup func(context.Context, *app, *api.Server) error) error {
	if r.api {
		if err := checkAdminKey(cfg.AdminKey); err != nil {
			return err
		}
	}
	log := newLogger()
	a, err := newApp(ctx, cfg, redisURL, log)
	if err != nil {
		return err
	}
	defer a.close()
	g, ctx := errgroup.WithContext(ctx)
	if r.api {
		h, err := a.apiHandler(ctx)
		if err != nil {
			return err
		}
		if setup != nil {
			if err := setup(ctx, a, h); err != nil {
				return err
			}
		}
		g.Go(func() error { return serveHTTP(ctx, cfg.HTTPAddr, h, ready) })
	} else {
		g.Go(func() error { return serveHTTP(ctx, cfg.HTTPAddr, a.opsHandler(), ready) })
	}
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != cfg.HTTPAddr {
		g.Go(func() error { return serveHTTP(ctx, cfg.MetricsAddr, a.metricsHandler(), nil) })
	}
	if r.worker {
		g.Go(func() error { return a.runWorker(ctx) })
		g.Go(func() error { return a.runWebhookDeliveries(ctx) })
	}
	if r.scheduler {
		g.Go(func() error { return a.runScheduler(ctx) })
		g.Go(func() error { return a.runWebhookRelay(ctx) })
	}
	log.Info("creditrun started", "http", cfg.HTTPAddr, "api", r.api, "worker", r.worker, "scheduler", r.scheduler)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// checkAdminKey returns an error saying how to set CREDITRUN_ADMIN_KEY when
// it is missing or cannot be a key. Every role that serves the API needs
// it; only `creditrun dev` makes one up.
func checkAdminKey(key string) error {
	if key == "" {
		return errors.New("CREDITRUN_ADMIN_KEY is required to serve the API: set it (or --admin-key) to a long random secret, " +
			"for example CREDITRUN_ADMIN_KEY=cr_admin_$(openssl rand -hex 24); only `creditrun dev` makes one up")
	}
	if err := api.CheckKey(key); err != nil {
		return fmt.Errorf("CREDITRUN_ADMIN_KEY %w", err)
	}
	return nil
}

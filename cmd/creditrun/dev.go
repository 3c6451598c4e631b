package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
)

// demoAccount is the account `creditrun dev` makes, with a plan per data
// type: overage on people, properties and products, reject and dedup on
// businesses.
var demoAccount = jobs.Account{ID: "demo", Name: "Demo", PlanIDs: []string{"people-1k-99", "properties-10k-349", "local-2k-49", "products-25k-249"}}

// runDev runs `creditrun dev`: everything in one process on embedded
// defaults: an in-process Redis, results and a generated sample dataset in
// the data dir, the built-in plans and a demo account.
func runDev(ctx context.Context, args []string) error {
	cfg, err := envConfig("dev", args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return dev(ctx, cfg, os.Stdout, nil)
}

func dev(ctx context.Context, cfg config, out io.Writer, ready chan<- string) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	redisURL := cfg.RedisURL
	if redisURL == "" {
		m, err := embeddedRedis(ctx)
		if err != nil {
			return err
		}
		defer m.Close()
		redisURL = "redis://" + m.Addr() + "/0"
	}
	fmt.Fprintln(out, "creditrun dev: preparing the sample dataset…")
	dir, err := ensureDataset(ctx, cfg.Dataset, cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.Dataset = dir
	if cfg.AdminKey == "" {
		cfg.AdminKey = api.NewKey()
	}
	setup := func(ctx context.Context, a *app, h *api.Server) error {
		if _, err := a.svc.CreateAccount(ctx, demoAccount.ID, demoAccount.Name, demoAccount.PlanIDs); err != nil && !errors.Is(err, jobs.ErrAccountExists) {
			return fmt.Errorf("demo account: %w", err)
		}
		key, err := h.CreateKey(ctx, api.RoleUser, demoAccount.ID)
		if err != nil {
			return fmt.Errorf("demo key: %w", err)
		}
		printBanner(out, publicURL(cfg.HTTPAddr), cfg.AdminKey, key, cfg.DataDir)
		return nil
	}
	return serveWith(ctx, cfg, redisURL, roles{api: true, worker: true, scheduler: true}, out, ready, setup)
}

func printBanner(out io.Writer, base, adminKey, userKey, dataDir string) {
	fmt.Fprintf(out, `
creditrun dev is running on %[1]s
  data dir:  %[4]s (sample dataset and result files; Redis is in memory)
  admin key: %[2]s
  demo key:  %[3]s   (account "demo": people, properties, businesses, products)

Try:
  curl -s %[1]s/v1/account -H 'Authorization: Bearer %[3]s'
  curl -s %[1]s/v1/searches -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
       -d '{"data_type": "people", "query": "province:TX", "num_records": 5}'
  curl -s %[1]s/v1/jobs -H 'Authorization: Bearer %[3]s'
  curl -s %[1]s/v1/downloads -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
       -d '{"data_type": "properties", "query": "price:[100000 TO 300000]", "num_records": 100, "format": "csv"}'

`, base, adminKey, userKey, dataDir)
}

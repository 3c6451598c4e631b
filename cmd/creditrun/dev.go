package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/internal/embedredis"
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
	cfg.WebhookAllowPrivate = true // dev receivers run on loopback
	applyMemoryLimit(cfg.MemoryLimitBytes, os.Getenv("GOMEMLIMIT"), newLogger())
	// Under `make run`, an interrupt of make itself stops dev too.
	return dev(stopWithMake(ctx, newLogger()), cfg, os.Stdout, nil)
}

func dev(ctx context.Context, cfg config, out io.Writer, ready chan<- string) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	redisURL := cfg.RedisURL
	redisNote := "Redis at " + redactURL(redisURL)
	if redisURL == "" {
		// The embedded store is kept in the data dir: saved every few
		// seconds and when creditrun stops, loaded when it starts.
		st, err := embedredis.Open(ctx, embedredis.Options{File: devStoreFile(cfg.DataDir), Logger: newLogger()})
		if err != nil {
			return err
		}
		defer func() {
			if err := st.Close(); err != nil {
				fmt.Fprintf(out, "creditrun dev: saving the embedded store: %v\n", err)
			}
		}()
		redisURL = embedredis.URL(st.Miniredis)
		redisNote = "Redis state saved in " + devStoreFile(cfg.DataDir)
	}
	fmt.Fprintln(out, "creditrun dev: preparing the sample dataset…")
	dir, err := ensureDataset(ctx, cfg.Dataset, cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.Dataset = dir
	keys, err := readDevKeys(cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.AdminKey == "" {
		if keys.AdminKey == "" {
			keys.AdminKey = api.NewKey()
		}
		cfg.AdminKey = keys.AdminKey
	}
	setup := func(ctx context.Context, a *app, h *api.Server) error {
		if _, err := a.svc.CreateAccount(ctx, demoAccount.ID, demoAccount.Name, demoAccount.PlanIDs); err != nil && !errors.Is(err, jobs.ErrAccountExists) {
			return fmt.Errorf("demo account: %w", err)
		}
		if err := demoKey(ctx, h, &keys); err != nil {
			return err
		}
		if err := writeDevKeys(cfg.DataDir, keys); err != nil {
			return err
		}
		printBanner(out, publicURL(cfg.HTTPAddr), cfg.AdminKey, keys.DemoKey, cfg.DataDir, redisNote)
		return nil
	}
	return serveWith(ctx, cfg, redisURL, roles{api: true, worker: true, scheduler: true}, out, ready, setup)
}

// devKeys are the keys `creditrun dev` prints, kept in the data dir so that
// they stay the same from one start to the next.
type devKeys struct {
	// AdminKey is the bootstrap admin key, used unless CREDITRUN_ADMIN_KEY
	// is set.
	AdminKey string `json:"admin_key"`
	// DemoKey is the demo account's user key, and DemoKeyID its id.
	DemoKey   string `json:"demo_key"`
	DemoKeyID string `json:"demo_key_id"`
}

// devStoreFile is where `creditrun dev` keeps its embedded Redis.
func devStoreFile(dataDir string) string { return filepath.Join(dataDir, "dev-redis.gob") }

// devKeysFile is where `creditrun dev` keeps its keys (mode 0600).
func devKeysFile(dataDir string) string { return filepath.Join(dataDir, "dev-keys.json") }

// readDevKeys reads the keys of an earlier start; none on the first.
func readDevKeys(dataDir string) (devKeys, error) {
	var k devKeys
	b, err := os.ReadFile(devKeysFile(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("%s: %w (remove it to get new keys)", devKeysFile(dataDir), err)
	}
	return k, nil
}

// writeDevKeys keeps k in the data dir, readable by its owner only.
func writeDevKeys(dataDir string, k devKeys) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	tmp := devKeysFile(dataDir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, devKeysFile(dataDir))
}

// demoKey sets k's demo key: the one of an earlier start while the store
// still has it (and it was not revoked), else a new one.
func demoKey(ctx context.Context, h *api.Server, k *devKeys) error {
	if k.DemoKey != "" && k.DemoKeyID != "" {
		have, err := h.Keys(ctx, demoAccount.ID)
		if err != nil {
			return fmt.Errorf("demo key: %w", err)
		}
		for _, info := range have {
			if info.ID == k.DemoKeyID && info.ExpiresAt.IsZero() { // revoked keys are not listed
				return nil
			}
		}
	}
	info, secret, err := h.IssueKey(ctx, api.RoleUser, demoAccount.ID, time.Time{})
	if err != nil {
		return fmt.Errorf("demo key: %w", err)
	}
	k.DemoKey, k.DemoKeyID = secret, info.ID
	return nil
}

func printBanner(out io.Writer, base, adminKey, userKey, dataDir, redisNote string) {
	fmt.Fprintf(out, `
creditrun dev is running on %[1]s
  data dir:  %[4]s (sample dataset, result files, keys; %[5]s)
  admin key: %[2]s
  demo key:  %[3]s   (account "demo": people, properties, businesses, products)

Try:
  curl -s %[1]s/v1/account -H 'Authorization: Bearer %[3]s'
  curl -s %[1]s/v1/searches -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
       -d '{"data_type": "people", "query": "province:TX", "num_records": 5}'
  curl -s %[1]s/v1/jobs -H 'Authorization: Bearer %[3]s'
  curl -s %[1]s/v1/downloads -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
       -d '{"data_type": "properties", "query": "price:[100000 TO 300000]", "num_records": 100, "format": "csv"}'

`, base, adminKey, userKey, dataDir, redisNote)
}

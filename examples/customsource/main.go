// Command customsource serves creditrun's HTTP API and a worker over a
// source of its own: vehicles, in memory, instead of a dataset directory.
// Redis is embedded (miniredis), as in `creditrun dev`; result files go to
// a temporary directory. Run it with `go run ./examples/customsource` and
// try the curl line it prints.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/internal/embedredis"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// plansYAML is the plan of the demo account, for the vehicles data type.
//
//go:embed plans.yaml
var plansYAML []byte

// account is the demo account, on the plan of plans.yaml.
const account, accountPlan = "fleet", "vehicles-1k"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the API's listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *addr, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "customsource:", err)
		os.Exit(1)
	}
}

// run serves the API on addr and a worker over the vehicles source until ctx
// ends. ready, when set, gets the API's base URL and the demo account's key
// once the API listens.
func run(ctx context.Context, addr string, out io.Writer, ready func(base, key string)) error {
	src, err := newVehicles(sampleVehicles)
	if err != nil {
		return err
	}
	// The plans name the source's data types, and only those.
	catalog, err := plan.ParseFor(plansYAML, plan.DataTypesOf(src.DataTypes()))
	if err != nil {
		return fmt.Errorf("plans: %w", err)
	}

	m, err := embedredis.Start(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	queueOpt := asynq.RedisClientOpt{Addr: m.Addr()}
	client, inspector := asynq.NewClient(queueOpt), asynq.NewInspector(queueOpt)
	defer client.Close()
	defer inspector.Close()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	results, err := os.MkdirTemp("", "creditrun-customsource-")
	if err != nil {
		ln.Close()
		return err
	}
	defer os.RemoveAll(results)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	files := storage.NewLocal(results, base, secret, nil)

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, led := jobstore.New(rdb, jobstore.Options{}), ledger.New(rdb, ledger.Options{})
	svc := jobs.NewService(jobs.Config{
		Ledger: led, Store: store, Accounts: store,
		Queue: worker.NewQueue(client, inspector), Catalog: catalog, Source: src,
		DataTypes: jobs.KnownDataType(src.DataTypes()),
	})
	srv, err := api.New(api.Config{
		Jobs: svc, Ledger: led, Redis: rdb, Storage: files, Files: files.Handler(),
		RateLimit: api.RateLimitOff, AdminKey: api.NewKey(), Logger: logger, DataTypes: src.DataTypes(),
	})
	if err != nil {
		ln.Close()
		return err
	}
	if _, err := svc.CreateAccount(ctx, account, "Fleet Co", []string{accountPlan}); err != nil {
		ln.Close()
		return fmt.Errorf("demo account: %w", err)
	}
	key, err := srv.CreateKey(ctx, api.RoleUser, account)
	if err != nil {
		ln.Close()
		return fmt.Errorf("demo key: %w", err)
	}

	h := worker.NewHandler(worker.HandlerConfig{Service: svc, Source: src, Storage: files, Logger: logger})
	httpSrv := api.NewHTTPServer(srv, api.DefaultTimeouts)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(shutdown)
	})
	g.Go(func() error { return worker.Run(ctx, queueOpt, 2, h) })

	fmt.Fprintf(out, `creditrun over a custom source is running on %[1]s
  data types: %[3]v   (account %[4]q, plan %[5]q)
  key:        %[2]s

Try:
  curl -s %[1]s/v1/searches -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
       -d '{"data_type": "vehicles", "query": "make:volvo AND year:[2000 TO *]", "num_records": 5}'
  curl -s %[1]s/v1/jobs -H 'Authorization: Bearer %[2]s'
`, base, key, src.DataTypes(), account, accountPlan)
	if ready != nil {
		ready(base, key)
	}
	return g.Wait()
}

// sampleVehicles are the records of the source.
var sampleVehicles = []map[string]any{
	{"id": "veh_001", "make": "Volvo", "model": "V70", "year": 2004, "fuel": "diesel", "owner": map[string]any{"city": "Gothenburg"}},
	{"id": "veh_002", "make": "Volvo", "model": "240", "year": 1988, "fuel": "petrol", "owner": map[string]any{"city": "Malmo"}},
	{"id": "veh_003", "make": "Saab", "model": "900", "year": 1991, "fuel": "petrol", "owner": map[string]any{"city": "Trollhattan"}},
	{"id": "veh_004", "make": "Volvo", "model": "XC40", "year": 2021, "fuel": "electric", "owner": map[string]any{"city": "Stockholm"}},
	{"id": "veh_005", "make": "Toyota", "model": "Prius", "year": 2015, "fuel": "hybrid", "owner": map[string]any{"city": "Austin"}},
	{"id": "veh_006", "make": "Ford", "model": "F-150", "year": 2019, "fuel": "petrol", "owner": map[string]any{"city": "Dallas"}},
}

package main

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/benchmark"
	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestBenchRefresh runs the refresh bench on a few hundred accounts, on a
// redis-server and on a cluster: every figure is there, and the bench leaves
// no key behind.
func TestBenchRefresh(t *testing.T) {
	t.Parallel()
	const n = 300
	for name, connect := range map[string]func(t *testing.T) redis.UniversalClient{
		"Redis": func(t *testing.T) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: redisserver.T(t).Addr()})
		},
		"Cluster": func(t *testing.T) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: redisserver.ClusterT(t).Addrs()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client := connect(t)
			t.Cleanup(func() { client.Close() })
			var fig benchmark.Figures
			if err := benchRefresh(ctx, client, benchOptions{goroutines: 4, refreshAccounts: n}, &fig, io.Discard); err != nil {
				t.Fatal(err)
			}
			if fig.RefreshAccounts != n || fig.RefreshSeconds <= 0 {
				t.Errorf("refresh_accounts %d, refresh_s %v; want %d and a time", fig.RefreshAccounts, fig.RefreshSeconds, n)
			}
			for name, v := range map[string]float64{
				"refresh_accounts_per_s": fig.RefreshAccountsPerS, "refresh_pools_per_s": fig.RefreshPoolsPerS,
				"refresh_bare_accounts_per_s": fig.RefreshBareAccountsPerS, "refresh_ratio": fig.RefreshRatio,
			} {
				if v <= 0 {
					t.Errorf("%s = %v, want it positive", name, v)
				}
			}
			if fig.RefreshPoolsPerS < fig.RefreshAccountsPerS {
				t.Errorf("refresh_pools_per_s %v below refresh_accounts_per_s %v: each account has two pools", fig.RefreshPoolsPerS, fig.RefreshAccountsPerS)
			}
			if keys := dbSize(t, client); keys != 0 {
				t.Errorf("%d keys left behind", keys)
			}
		})
	}
}

// dbSize is the number of keys on the server, on every master of a cluster.
func dbSize(t *testing.T, client redis.UniversalClient) int64 {
	t.Helper()
	var total atomic.Int64
	count := func(ctx context.Context, c *redis.Client) error {
		n, err := c.DBSize(ctx).Result()
		total.Add(n)
		return err
	}
	var err error
	if c, ok := client.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(t.Context(), count)
	} else {
		err = count(t.Context(), client.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return total.Load()
}

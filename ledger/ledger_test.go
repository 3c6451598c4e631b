package ledger_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// One redis-server and one 3-master cluster serve every test of the package;
// cases isolate themselves by key prefix.
var (
	server  *redisserver.Server
	cluster *redisserver.Cluster
)

func TestMain(m *testing.M) {
	code := redisserver.RunShared(m, func(s *redisserver.Server, c *redisserver.Cluster) { server, cluster = s, c })
	if ratio, ok := pairRatio(); ok {
		fmt.Printf("ledger_pair_ratio: %.2f\n", ratio)
	}
	os.Exit(code)
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, opts ledger.Options) (*ledger.Redis, redis.UniversalClient) {
		c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 64})
		t.Cleanup(func() { c.Close() })
		return ledger.New(c, opts), c
	}, ledgertest.Options{})
}

func TestCluster(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, opts ledger.Options) (*ledger.Redis, redis.UniversalClient) {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), PoolSize: 64})
		t.Cleanup(func() { c.Close() })
		return ledger.New(c, opts), c
	}, ledgertest.Options{})
}

func TestMiniredis(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, opts ledger.Options) (*ledger.Redis, redis.UniversalClient) {
		s := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		t.Cleanup(func() { c.Close() })
		return ledger.New(c, opts), c
	}, ledgertest.Options{Scale: 2})
}

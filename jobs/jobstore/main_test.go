package jobstore_test

import (
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// One redis-server and one 3-master cluster serve every test of the package;
// cases isolate themselves by key prefix. miniredis runs one server a case.
var (
	server  *redisserver.Server
	cluster *redisserver.Cluster
)

func TestMain(m *testing.M) {
	os.Exit(redisserver.RunShared(m, func(s *redisserver.Server, c *redisserver.Cluster) { server, cluster = s, c }))
}

func TestRedis(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
		c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 64})
		t.Cleanup(func() { c.Close() })
		return c, nil
	})
}

func TestCluster(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), PoolSize: 64})
		t.Cleanup(func() { c.Close() })
		return c, nil
	})
}

func TestMiniredis(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
		s := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		t.Cleanup(func() { c.Close() })
		return c, s.FastForward
	})
}

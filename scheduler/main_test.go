package scheduler_test

import (
	"os"
	"testing"

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
	if os.Getenv(childRedisEnv) != "" { // re-executed as a worker (reaper_kill_test.go)
		os.Exit(runChildWorker())
	}
	os.Exit(redisserver.RunShared(m, func(s *redisserver.Server, c *redisserver.Cluster) { server, cluster = s, c }))
}

// newClientFunc returns a new client to the target under test; each call is
// a separate connection pool, as separate scheduler processes would have.
type newClientFunc func(t *testing.T) redis.UniversalClient

// targets runs fn against real Redis, Redis Cluster and miniredis.
func targets(t *testing.T, fn func(t *testing.T, newClient newClientFunc)) {
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		fn(t, func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: server.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		})
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		fn(t, func(t *testing.T) redis.UniversalClient {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs()})
			t.Cleanup(func() { c.Close() })
			return c
		})
	})
	t.Run("Miniredis", func(t *testing.T) {
		t.Parallel()
		s := miniredis.RunT(t)
		fn(t, func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: s.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		})
	})
}

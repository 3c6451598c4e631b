package redisserver

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// notFoundHint is the message of a test that cannot find redis-server.
const notFoundHint = "redis-server not found: run `make test`, which installs it"

// T starts a server for the test, closes it when the test ends, and fails
// the test if the server does not start.
func T(t testing.TB) *Server {
	t.Helper()
	return TWith(t, Options{})
}

// TWith is T with options.
func TWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		fatal(t, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close redis-server %s: %v", s.Addr(), err)
		}
	})
	return s
}

// ClusterT starts a three-master cluster for the test, closes it when the
// test ends, and fails the test if the cluster does not start.
func ClusterT(t testing.TB) *Cluster {
	t.Helper()
	return ClusterTWith(t, Options{})
}

// ClusterTWith is ClusterT with options.
func ClusterTWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := StartCluster(opts)
	if err != nil {
		fatal(t, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close redis cluster: %v", err)
		}
	})
	return c
}

func fatal(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotFound) {
		t.Fatalf("%s (%v)", notFoundHint, err)
	}
	t.Fatalf("start redis: %v", err)
}

// RunShared runs a package's tests with one redis-server and one 3-master
// cluster that all of them share, isolating themselves by key prefix: it
// starts both, hands them to set, runs m and stops both. It returns m.Run's
// exit code, or 1 when a server does not start. Call it from TestMain:
//
//	func TestMain(m *testing.M) {
//		os.Exit(redisserver.RunShared(m, func(s *redisserver.Server, c *redisserver.Cluster) { server, cluster = s, c }))
//	}
func RunShared(m *testing.M, set func(*Server, *Cluster)) int {
	s, err := Start(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "shared redis-server:", err)
		return 1
	}
	defer s.Close()
	c, err := StartCluster(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "shared redis cluster:", err)
		return 1
	}
	defer c.Close()
	set(s, c)
	return m.Run()
}

// FailoverT starts a master, its replicas and sentinels for the test
// (StartFailover), closes them when the test ends, and fails the test if
// they do not start.
func FailoverT(t testing.TB, opts FailoverOptions) *Failover {
	t.Helper()
	f, err := StartFailover(opts)
	if err != nil {
		fatal(t, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close redis failover set: %v", err)
		}
	})
	return f
}

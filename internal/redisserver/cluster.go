package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterMasters is the number of masters of a Cluster.
	clusterMasters = 3
	// clusterSlots is the number of hash slots of Redis Cluster.
	clusterSlots = 16384
	// busPortOffset is the distance from a node's port to its cluster bus
	// port, which Redis derives this way unless told otherwise.
	busPortOffset = 10000
)

// Cluster is a running three-master Redis Cluster with no replicas, every
// node on its own free port of 127.0.0.1. Close it when done.
type Cluster struct {
	nodes []*Server
}

// StartCluster starts three redis-server nodes in cluster mode, joins them
// with `redis-cli --cluster create`, and returns once every node reports
// cluster_state:ok with all 16384 slots assigned and served, and sees all
// three masters.
//
// It returns an error wrapping ErrNotFound when redis-server or redis-cli is
// not installed.
func StartCluster(opts Options) (c *Cluster, err error) {
	opts = opts.withDefaults()
	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	cli, err := exec.LookPath(opts.CLI)
	if err != nil {
		return nil, fmt.Errorf("%w: redis-cli: %w", ErrNotFound, err)
	}

	c = &Cluster{}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	for range clusterMasters {
		extra := func(dir string) []string {
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "15000",
			}
		}
		node, err := startWithPorts(bin, opts, extra, freeClusterPort)
		if err != nil {
			return nil, fmt.Errorf("cluster node: %w", err)
		}
		c.nodes = append(c.nodes, node)
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, c.Addrs()...),
		"--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, lastLines(string(out), logTailLines))
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", strings.Join(c.Addrs(), ","), err)
	}
	return c, nil
}

// waitReady polls every node until all of them pass nodeReady.
func (c *Cluster) waitReady(ctx context.Context) error {
	var lastErr error
	for {
		lastErr = nil
		for _, n := range c.nodes {
			if err := nodeReady(ctx, n.Addr()); err != nil {
				lastErr = fmt.Errorf("node %s: %w", n.Addr(), err)
				break
			}
		}
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready in time: %w", lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nodeReady checks that the node at addr reports cluster_state:ok, knows
// every master, has every slot assigned and ok, and that its slot map
// (CLUSTER SLOTS) covers slots 0 to 16383 with no gap.
func nodeReady(ctx context.Context, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1})
	defer rdb.Close()

	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLUSTER INFO: %w", err)
	}
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": strconv.Itoa(clusterSlots),
		"cluster_slots_ok":       strconv.Itoa(clusterSlots),
		"cluster_known_nodes":    strconv.Itoa(clusterMasters),
		"cluster_size":           strconv.Itoa(clusterMasters),
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("CLUSTER INFO: %s is %q, want %q", k, got[k], v)
		}
	}

	slots, err := rdb.ClusterSlots(ctx).Result() //nolint:staticcheck // CLUSTER SHARDS needs Redis 7; Debian may ship 6
	if err != nil {
		return fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	covered := make([]bool, clusterSlots)
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			return fmt.Errorf("CLUSTER SLOTS: slots %d-%d have no node", r.Start, r.End)
		}
		for s := r.Start; s <= r.End && s < clusterSlots; s++ {
			covered[s] = true
		}
	}
	for s, ok := range covered {
		if !ok {
			return fmt.Errorf("CLUSTER SLOTS: slot %d is not covered", s)
		}
	}
	return nil
}

// Addrs returns the "127.0.0.1:PORT" of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns "redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3", the
// form of CREDITRUN_REDIS_URL for a cluster.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// Close kills every node and removes their directories. It is safe to call
// more than once.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}

// freeClusterPort returns a free port whose cluster bus port (port+10000)
// is free and valid too. Picking the bus port this way, rather than with
// --cluster-port, works on every Redis version that has Redis Cluster.
func freeClusterPort() (int, error) {
	for range 100 {
		l, err := listen("127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("redis-server: pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+busPortOffset > 65535 {
			_ = l.Close()
			continue
		}
		bus, err := listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(port+busPortOffset)))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port, nil
	}
	return 0, errors.New("redis-server: found no free port pair for a cluster node")
}

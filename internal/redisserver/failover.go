package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of FailoverOptions.
const (
	DefaultMasterName = "mymaster"
	DefaultDownAfter  = time.Second
	// DefaultFailoverTimeout is Sentinel's failover-timeout: also how long
	// Sentinel waits before it tries a failover of the same master again.
	DefaultFailoverTimeout = 10 * time.Second
	defaultReplicas        = 1
	defaultSentinels       = 3
)

// FailoverOptions configure StartFailover. The zero value is ready to use.
type FailoverOptions struct {
	// Options apply to the data servers (the master and its replicas),
	// e.g. AppendFsync. The sentinels take only Binary and StartTimeout.
	Options

	// MasterName is the name the sentinels monitor the master under.
	// Defaults to "mymaster".
	MasterName string
	// Replicas is the number of replicas of the master. Defaults to 1.
	Replicas int
	// Sentinels is the number of sentinels, of which a majority is the
	// quorum. Defaults to 3.
	Sentinels int
	// DownAfter is how long a master must be unreachable before a sentinel
	// thinks it down (down-after-milliseconds). Defaults to 1 s.
	DownAfter time.Duration
	// FailoverTimeout is Sentinel's failover-timeout. Defaults to 10 s.
	// Sentinel also waits this long before it points a replica that
	// replicates from another address back at the master.
	FailoverTimeout time.Duration

	// ReplicaLink, when set, gives the address the replicas replicate from,
	// given the master's: a proxy in front of the master, to slow or cut
	// the replication stream. Defaults to the master's address.
	ReplicaLink func(master string) string
}

func (o FailoverOptions) withDefaults() FailoverOptions {
	o.Options = o.Options.withDefaults()
	if o.MasterName == "" {
		o.MasterName = DefaultMasterName
	}
	if o.Replicas <= 0 {
		o.Replicas = defaultReplicas
	}
	if o.Sentinels <= 0 {
		o.Sentinels = defaultSentinels
	}
	if o.DownAfter <= 0 {
		o.DownAfter = DefaultDownAfter
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = DefaultFailoverTimeout
	}
	return o
}

// Failover is a master, its replicas and the sentinels that watch them,
// each a redis-server on its own free port of 127.0.0.1. Close it when done.
type Failover struct {
	opts      FailoverOptions
	servers   []*Server // the master at start, then the replicas
	sentinels []*Server
	// link is the address the replicas first replicate from.
	link string
}

// StartFailover starts a master, opts.Replicas replicas of it and
// opts.Sentinels sentinels (redis-server --sentinel, each with a generated
// config), and returns once every replica is in sync and every sentinel
// knows the replicas and the other sentinels, so that a failover can
// happen.
//
// It returns an error wrapping ErrNotFound when redis-server is not
// installed.
func StartFailover(opts FailoverOptions) (f *Failover, err error) {
	opts = opts.withDefaults()
	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	f = &Failover{opts: opts}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	master, err := startWithPorts(bin, opts.Options, nil, freePort)
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	f.servers = append(f.servers, master)
	f.link = master.Addr()
	if opts.ReplicaLink != nil {
		f.link = opts.ReplicaLink(master.Addr())
	}
	mhost, mport, _ := net.SplitHostPort(f.link)
	for range opts.Replicas {
		r, err := startWithPorts(bin, opts.Options, func(string) []string {
			return []string{"--replicaof", mhost, mport}
		}, freePort)
		if err != nil {
			return nil, fmt.Errorf("replica: %w", err)
		}
		f.servers = append(f.servers, r)
	}
	quorum := opts.Sentinels/2 + 1
	for range opts.Sentinels {
		s, err := startSentinel(bin, opts, master.Addr(), quorum)
		if err != nil {
			return nil, err
		}
		f.sentinels = append(f.sentinels, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	if err := f.waitSynced(ctx, master); err != nil {
		return nil, err
	}
	return f, nil
}

// startSentinel starts one sentinel that monitors the master at addr.
func startSentinel(bin string, opts FailoverOptions, addr string, quorum int) (*Server, error) {
	host, port, _ := net.SplitHostPort(addr)
	var lastErr error
	for range bindAttempts {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := startBuilt(bin, p, opts.Options, func(dir string) ([]string, error) {
			// Sentinel rewrites its config file as it learns, so each has its
			// own, in its own directory.
			conf := strings.Join([]string{
				"port " + strconv.Itoa(p),
				"bind 127.0.0.1",
				"daemonize no",
				"dir " + dir,
				`logfile ""`,
				fmt.Sprintf("sentinel monitor %s %s %s %d", opts.MasterName, host, port, quorum),
				fmt.Sprintf("sentinel down-after-milliseconds %s %d", opts.MasterName, opts.DownAfter.Milliseconds()),
				fmt.Sprintf("sentinel failover-timeout %s %d", opts.MasterName, opts.FailoverTimeout.Milliseconds()),
				fmt.Sprintf("sentinel parallel-syncs %s 1", opts.MasterName),
				"",
			}, "\n")
			path := filepath.Join(dir, "sentinel.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, fmt.Errorf("sentinel config: %w", err)
			}
			return []string{path, "--sentinel"}, nil
		})
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, fmt.Errorf("sentinel: %w", lastErr)
}

// waitSynced waits until every replica of master is connected and in sync,
// and every sentinel sees master as the master, knows every replica, and
// knows every other sentinel.
func (f *Failover) waitSynced(ctx context.Context, master *Server) error {
	var lastErr error
	for {
		if lastErr = f.synced(ctx, master); lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("failover set not ready in time: %w", lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (f *Failover) synced(ctx context.Context, master *Server) error {
	replicas := len(f.servers) - 1
	for _, s := range f.servers {
		if s == master || !s.Running() {
			continue
		}
		info, err := infoOf(ctx, s.Addr(), "replication")
		if err != nil {
			return fmt.Errorf("replica %s: %w", s.Addr(), err)
		}
		if info["role"] == "master" {
			// An old master that came back: Sentinel makes it a replica of
			// the new one in its own time, which took minutes here at
			// times; do it now, as an operator would.
			host, port, _ := net.SplitHostPort(master.Addr())
			if _, err := command(ctx, s.Addr(), "REPLICAOF", host, port); err != nil {
				return fmt.Errorf("replica %s: replicaof %s: %w", s.Addr(), master.Addr(), err)
			}
			return fmt.Errorf("replica %s: still a master; told to replicate %s", s.Addr(), master.Addr())
		}
		from := net.JoinHostPort(info["master_host"], info["master_port"])
		if info["master_link_status"] != "up" || from != master.Addr() && (master != f.servers[0] || from != f.link) {
			return fmt.Errorf("replica %s: master %s:%s, link %q", s.Addr(), info["master_host"], info["master_port"], info["master_link_status"])
		}
	}
	for _, sn := range f.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, f.opts.MasterName).Result()
		if err == nil && (len(addr) != 2 || net.JoinHostPort(addr[0], addr[1]) != master.Addr()) {
			err = fmt.Errorf("master is %v, want %s", addr, master.Addr())
		}
		var reps, sents []map[string]string
		if err == nil {
			reps, err = c.Replicas(ctx, f.opts.MasterName).Result()
		}
		if err == nil {
			sents, err = c.Sentinels(ctx, f.opts.MasterName).Result()
		}
		c.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sn.Addr(), err)
		}
		up := 0
		for _, r := range reps {
			if !strings.Contains(r["flags"], "down") && r["master-link-status"] == "ok" {
				up++
			}
		}
		// A replica that is down (a killed old master) is not waited for.
		if up < replicas-f.down(master) || len(sents) != len(f.sentinels)-1 {
			return fmt.Errorf("sentinel %s knows %d replicas up and %d other sentinels", sn.Addr(), up, len(sents))
		}
	}
	return nil
}

// down counts the data servers other than master that are not running.
func (f *Failover) down(master *Server) int {
	n := 0
	for _, s := range f.servers {
		if s != master && !s.Running() {
			n++
		}
	}
	return n
}

// infoOf returns INFO section of the server at addr as a map.
func infoOf(ctx context.Context, addr, section string) (map[string]string, error) {
	info, err := command(ctx, addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// MasterName returns the name the sentinels know the master by.
func (f *Failover) MasterName() string { return f.opts.MasterName }

// SentinelAddrs returns the "127.0.0.1:PORT" of every sentinel.
func (f *Failover) SentinelAddrs() []string {
	addrs := make([]string, len(f.sentinels))
	for i, s := range f.sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL returns "redis+sentinel://127.0.0.1:P1,…/mymaster", the form of
// CREDITRUN_REDIS_URL for Sentinel.
func (f *Failover) URL() string {
	return "redis+sentinel://" + strings.Join(f.SentinelAddrs(), ",") + "/" + f.opts.MasterName
}

// Servers returns the data servers: the master at start, then the
// replicas. Which of them is the master now, Master says.
func (f *Failover) Servers() []*Server { return f.servers }

// Sentinels returns the sentinels.
func (f *Failover) Sentinels() []*Server { return f.sentinels }

// Master returns the data server that the first sentinel that answers
// names as the master. It returns an error when no sentinel answers or the
// address named is none of f's servers.
func (f *Failover) Master(ctx context.Context) (*Server, error) {
	var lastErr error
	for _, sn := range f.sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, f.opts.MasterName).Result()
		c.Close()
		if err != nil {
			lastErr = fmt.Errorf("sentinel %s: %w", sn.Addr(), err)
			continue
		}
		if len(addr) == 2 {
			if s := f.server(net.JoinHostPort(addr[0], addr[1])); s != nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("sentinel %s names master %v, none of the set's servers", sn.Addr(), addr)
	}
	return nil, fmt.Errorf("no sentinel answers: %w", lastErr)
}

func (f *Failover) server(addr string) *Server {
	for _, s := range f.servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// KillMaster kills the current master with SIGKILL and waits, until ctx
// ends, for the failover: every sentinel names another server as the
// master, and that server says it is one (ROLE). It returns the old master,
// still down (Restart brings it back, and Sentinel then makes it a replica
// of the new one), and the new master.
func (f *Failover) KillMaster(ctx context.Context) (old, promoted *Server, err error) {
	old, err = f.Master(ctx)
	if err != nil {
		return nil, nil, err
	}
	old.Kill()
	promoted, err = f.WaitMaster(ctx, func(s *Server) bool { return s != old })
	return old, promoted, err
}

// WaitMaster waits, until ctx ends, for every running sentinel to name the
// same server as the master, for ok to accept it, and for that server to
// report role master; and returns it.
func (f *Failover) WaitMaster(ctx context.Context, ok func(*Server) bool) (*Server, error) {
	var lastErr error
	for {
		s, err := f.agreedMaster(ctx)
		switch {
		case err != nil:
			lastErr = err
		case !ok(s):
			lastErr = fmt.Errorf("the sentinels still name %s", s.Addr())
		default:
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no failover: %w", lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (f *Failover) agreedMaster(ctx context.Context) (*Server, error) {
	var agreed string
	for _, sn := range f.sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, f.opts.MasterName).Result()
		c.Close()
		if err != nil || len(addr) != 2 {
			return nil, fmt.Errorf("sentinel %s: %v %w", sn.Addr(), addr, err)
		}
		a := net.JoinHostPort(addr[0], addr[1])
		if agreed != "" && a != agreed {
			return nil, fmt.Errorf("sentinels disagree: %s and %s", agreed, a)
		}
		agreed = a
	}
	s := f.server(agreed)
	if s == nil {
		return nil, fmt.Errorf("the sentinels name %q, none of the set's servers", agreed)
	}
	info, err := infoOf(ctx, s.Addr(), "replication")
	if err != nil {
		return nil, fmt.Errorf("master %s: %w", s.Addr(), err)
	}
	if info["role"] != "master" {
		return nil, fmt.Errorf("%s is named master, says role %s", s.Addr(), info["role"])
	}
	return s, nil
}

// Close kills every server and sentinel and removes their directories.
// Safe to call more than once.
func (f *Failover) Close() error {
	var errs []error
	for _, s := range f.sentinels {
		errs = append(errs, s.Close())
	}
	for _, s := range f.servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// WaitSynced waits, until ctx ends, until the current master's replicas
// that run are in sync with it and every sentinel knows them and the other
// sentinels: after Restart of a killed master, when it has rejoined as a
// replica.
func (f *Failover) WaitSynced(ctx context.Context) error {
	m, err := f.WaitMaster(ctx, func(*Server) bool { return true })
	if err != nil {
		return err
	}
	return f.waitSynced(ctx, m)
}

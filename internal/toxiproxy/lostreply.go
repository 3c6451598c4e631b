package toxiproxy

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ReplyCutter is a go-redis hook that loses the replies of chosen commands:
// while one of them runs, the proxy in front of Redis closes each
// connection as soon as a reply starts to come back (a limit_data toxic of 1 byte
// downstream). The command has reached Redis and run there; its client sees
// the connection drop and retries it on a new connection, up to its
// MaxRetries, each run executed and its reply lost: the fault that makes a
// command that is not safe to repeat move money twice.
//
// Add it to a client that talks to Redis through the proxy
// (client.AddHook). Every command it does not pick passes untouched.
type ReplyCutter struct {
	proxy *Proxy
	mu    sync.Mutex
	pick  func(redis.Cmder) bool
	// pickPipe is the armed pipeline pick, and once the toxic that cuts it,
	// until the client dials again to resend it.
	pickPipe func([]redis.Cmder) bool
	once     string
	// Cut counts the commands whose replies it cut, retries included.
	cut atomic.Int64
	err error
}

// NewReplyCutter returns a hook that cuts replies through proxy; it picks
// nothing until Arm.
func NewReplyCutter(proxy *Proxy) *ReplyCutter { return &ReplyCutter{proxy: proxy} }

// Arm makes the cutter pick the next command for which pick reports true,
// with all its retries, and then none: one lost call.
func (c *ReplyCutter) Arm(pick func(redis.Cmder) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pick = pick
}

// Cut returns how many calls had their replies cut, and the first error of
// the proxy, if any, which a test should fail on.
func (c *ReplyCutter) Cut() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut.Load(), c.err
}

// take reports whether cmd is the armed pick, and disarms.
func (c *ReplyCutter) take(cmd redis.Cmder) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pick == nil || !c.pick(cmd) {
		return false
	}
	c.pick = nil
	return true
}

func (c *ReplyCutter) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// ArmPipelineOnce makes the cutter pick the next pipeline for which pick
// reports true and lose its replies once: the toxic goes as soon as the
// client dials a new connection to resend it, so the resend is answered. Use
// it on a client with PoolSize 1, whose resend must dial.
func (c *ReplyCutter) ArmPipelineOnce(pick func([]redis.Cmder) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pickPipe = pick
}

// takePipe reports whether cmds is the armed pipeline pick, and disarms.
func (c *ReplyCutter) takePipe(cmds []redis.Cmder) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pickPipe == nil || !c.pickPipe(cmds) {
		return false
	}
	c.pickPipe = nil
	return true
}

// removeOnce removes the toxic of a pipeline cut once, if it is still there.
func (c *ReplyCutter) removeOnce() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.once == "" {
		return
	}
	if err := c.proxy.Remove(c.once); err != nil && c.err == nil {
		c.err = err
	}
	c.once = ""
}

// DialHook removes the toxic of a pipeline cut once before the client dials
// to resend it, and passes every dial through.
func (c *ReplyCutter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.removeOnce()
		return next(ctx, network, addr)
	}
}

// ProcessHook cuts the replies of the armed command: the toxic stays while
// go-redis runs it and every retry of it.
func (c *ReplyCutter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !c.take(cmd) {
			return next(ctx, cmd)
		}
		name, err := c.proxy.LimitData(Downstream, 1)
		if err != nil {
			c.fail(err)
			return next(ctx, cmd)
		}
		c.cut.Add(1)
		defer func() {
			if err := c.proxy.Remove(name); err != nil {
				c.fail(err)
			}
		}()
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook cuts the replies of the pipeline armed by
// ArmPipelineOnce, once, and passes every other through.
func (c *ReplyCutter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !c.takePipe(cmds) {
			return next(ctx, cmds)
		}
		name, err := c.proxy.LimitData(Downstream, 1)
		if err != nil {
			c.fail(err)
			return next(ctx, cmds)
		}
		c.mu.Lock()
		c.once = name
		c.mu.Unlock()
		c.cut.Add(1)
		defer c.removeOnce()
		return next(ctx, cmds)
	}
}

// ScriptKeys returns the keys of an EVAL or EVALSHA command, nil for any
// other, so that a pick can tell scripts apart by the keys they touch.
func ScriptKeys(cmd redis.Cmder) []string {
	if n := cmd.Name(); n != "evalsha" && n != "eval" {
		return nil
	}
	args := cmd.Args()
	if len(args) < 3 {
		return nil
	}
	n, ok := args[2].(int)
	if !ok || len(args) < 3+n {
		return nil
	}
	keys := make([]string, 0, n)
	for _, k := range args[3 : 3+n] {
		s, _ := k.(string)
		keys = append(keys, s)
	}
	return keys
}

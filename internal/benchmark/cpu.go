package benchmark

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CPUTime is CPU time used so far: by this process (the clients, and the
// API and workers the bench runs in process) and by the Redis servers.
type CPUTime struct {
	Self, Redis time.Duration
}

// Sub returns the CPU time used between o and t.
func (t CPUTime) Sub(o CPUTime) CPUTime {
	return CPUTime{Self: t.Self - o.Self, Redis: t.Redis - o.Redis}
}

// PerOp returns the CPU time per operation, in microseconds to one decimal.
func (t CPUTime) PerOp(ops int64) (selfUS, redisUS float64) {
	if ops <= 0 {
		return 0, 0
	}
	us := func(d time.Duration) float64 { return Round(float64(d)/float64(time.Microsecond)/float64(ops), 1) }
	return us(t.Self), us(t.Redis)
}

// CPUMeter reads CPU time: this process's from getrusage, the Redis
// servers' from INFO cpu (used_cpu_user plus used_cpu_sys, summed over the
// masters of a cluster).
type CPUMeter struct {
	client redis.UniversalClient
}

// NewCPUMeter returns a meter of this process and the Redis behind client.
func NewCPUMeter(client redis.UniversalClient) CPUMeter { return CPUMeter{client: client} }

// Now returns the CPU time used so far.
func (m CPUMeter) Now(ctx context.Context) (CPUTime, error) {
	self, err := selfCPU()
	if err != nil {
		return CPUTime{}, err
	}
	var (
		mu    sync.Mutex
		total time.Duration
	)
	add := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return fmt.Errorf("redis cpu: %w", err)
		}
		d, err := parseRedisCPU(info)
		mu.Lock()
		total += d
		mu.Unlock()
		return err
	}
	switch c := m.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, add)
	case *redis.Client:
		err = add(ctx, c)
	default:
		err = fmt.Errorf("redis cpu: a %T is not measured", c)
	}
	return CPUTime{Self: self, Redis: total}, err
}

// parseRedisCPU adds used_cpu_user and used_cpu_sys of an INFO cpu reply.
func parseRedisCPU(info string) (time.Duration, error) {
	var total time.Duration
	found := 0
	for line := range strings.Lines(info) {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_user" && name != "used_cpu_sys") {
			continue
		}
		sec, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return 0, fmt.Errorf("redis cpu: %s %q: %w", name, val, err)
		}
		total += time.Duration(sec * float64(time.Second))
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("redis cpu: no used_cpu_user and used_cpu_sys in INFO cpu")
	}
	return total, nil
}

// ProcessCPU returns the CPU time, user and system, that the process pid has
// used so far (Linux only).
func ProcessCPU(pid int) (time.Duration, error) { return procCPU(pid) }

// SelfCPU returns the CPU time, user and system, that this process has used
// so far.
func SelfCPU() (time.Duration, error) { return selfCPU() }

package ledger_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// TestWaitReplicas: with WaitReplicas, a change of credits answers once a
// replica has it, and fails, saying so, when no replica takes it in time.
func TestWaitReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, replica := redisserver.T(t), redisserver.T(t)
	mc := redis.NewClient(&redis.Options{Addr: master.Addr()})
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	t.Cleanup(func() { mc.Close(); rc.Close() })
	host, port, _ := strings.Cut(master.Addr(), ":")
	if err := rc.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := mc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not come online: %s %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	l := ledger.New(mc, ledger.Options{WaitReplicas: 1, WaitTimeout: 500 * time.Millisecond})
	start := time.Now()
	if _, _, err := l.OpenPool(ctx, "acme", credit.PoolConfig{Name: "people", Grant: 100}, start, start.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.TopUp(ctx, "acme", "people", 10, "", "k1"); err != nil {
		t.Fatalf("top-up with a replica online: %v", err)
	}
	// The replica has it: read it there.
	if got, err := rc.HGet(ctx, "cr:{a:acme}:pool:people", "allocated").Result(); err != nil || got != strconv.Itoa(110) {
		t.Fatalf("the replica's allocated: %q, %v; want 110", got, err)
	}

	replica.Kill()
	_, err := l.TopUp(ctx, "acme", "people", 5, "", "k2")
	if err == nil || !strings.Contains(err.Error(), "reached 0 of 1 replicas") {
		t.Fatalf("top-up with the replica gone: %v, want an error saying no replica has it", err)
	}
	// The master made it: a keyed retry changes nothing more.
	p, err := ledger.New(mc, ledger.Options{}).TopUp(ctx, "acme", "people", 5, "", "k2")
	if err != nil || p.Allocated != 115 {
		t.Fatalf("retry without waiting: %+v, %v; want 115 allocated", p.Counts, err)
	}
}

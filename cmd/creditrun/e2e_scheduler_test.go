//go:build linux

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// minutelyPlans is a plans file whose periods last a minute, the shortest
// that the scheduler's refresh entry (every minute) can follow.
const minutelyPlans = `plans:
  minutely:
    pool: people
    data_types: [people]
    operations: [search, download, enrichment]
    credits: 100
    refresh: "@every 1m"
    on_insufficient: reject
`

// runsOK matches the metric of successful sweeps and captures its value.
var runsOK = regexp.MustCompile(`(?m)^creditrun_scheduler_runs_total\{entry="refresh",result="ok"\} (\d+)$`)

// appliedLog matches the refresh sweep's log line and captures its count.
var appliedLog = regexp.MustCompile(`scheduler: refreshed pools" entry=refresh count=(\d+)`)

// TestE2ESchedulerReplicas runs two `creditrun scheduler` processes against
// one Redis, on accounts with one-minute periods, for two boundaries. Each
// period is refreshed exactly once (each refresh entry starts a later
// period, and the processes' logged counts are no more than the journals'
// entries: an API request may start a period first), used resets and
// allocated becomes the grant, and the journals replay.
func TestE2ESchedulerReplicas(t *testing.T) {
	t.Parallel()
	plans := filepath.Join(t.TempDir(), "plans.yaml")
	if err := os.WriteFile(plans, []byte(minutelyPlans), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}, plans: plans})

	// The schedulers start first, so that every account's first boundary
	// falls after their first sweep: sweeps a minute apart then refresh
	// one-minute periods one at a time, with no catch-up.
	env := []string{"CREDITRUN_REDIS_URL=" + s.redis.URL(), "CREDITRUN_PLANS=" + plans, "CREDITRUN_DATA_DIR=" + s.dataDir}
	addrs := []string{freeAddr(t), freeAddr(t)}
	schedulers := []*proc{
		startProc(t, "scheduler", addrs[0], env...),
		startProc(t, "scheduler", addrs[1], env...),
	}

	type acct struct{ id, key string }
	var accounts []acct
	for range 8 {
		id, key := s.newAccount(t, "minutely")
		accounts = append(accounts, acct{id, key})
		j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 7})
		s.waitSucceeded(t, key, j.ID)
		if p := s.pool(t, key, "people"); p.Used != 7 {
			t.Fatalf("used %d after a search of 7", p.Used)
		}
	}

	// Two boundaries: each account's journal has two refreshes. (A sweep
	// that a loaded machine delays past a whole period catches up in one
	// refresh; the next boundary then makes the second.)
	deadline := time.Now().Add(5 * time.Minute)
	for _, a := range accounts {
		for {
			refreshes := s.refreshes(t, a.key)
			if refreshes >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d refreshes after 5 minutes: %+v", a.id, refreshes, s.pool(t, a.key, "people"))
			}
			time.Sleep(time.Second)
		}
	}

	// Each scheduler's /metrics counts its runs of the sweep.
	for i, addr := range addrs {
		body := string(fetch(t, "http://"+addr+"/metrics"))
		if m := runsOK.FindStringSubmatch(body); m == nil || m[1] == "0" {
			t.Errorf("scheduler %d: /metrics has no successful refresh runs:\n%s", i, body)
		}
	}
	// Stop both, so that no sweep runs between the count of the journals
	// and that of the logs.
	for _, p := range schedulers {
		p.stop(t)
	}
	l := ledger.New(s.rdb, ledger.Options{})
	journaled := 0
	for _, a := range accounts {
		// The journal is counted before the pool is read: a read after a
		// boundary would start the period itself, with no scheduler.
		refreshes := s.refreshes(t, a.key)
		p := s.pool(t, a.key, "people")
		if p.Used != 0 || p.Allocated != 100 || p.Available != 100 {
			t.Errorf("%s after the refreshes: %+v", a.id, p)
		}
		if refreshes < 2 {
			t.Errorf("%s: %d refresh entries, want at least 2", a.id, refreshes)
		}
		journaled += refreshes
		// I1, I4 and I6: each refresh starts a strictly later period.
		ledgertest.CheckAccount(t, l, a.id)
	}
	logged := 0
	for _, p := range schedulers {
		for _, m := range appliedLog.FindAllStringSubmatch(p.out.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			logged += n
		}
	}
	// A request of the account's key after a boundary starts the period
	// itself (its answer carries the balance), so the schedulers may have
	// applied fewer than the journals hold, never more: each refresh is
	// applied once, by whoever comes first.
	if logged == 0 || logged > journaled {
		t.Errorf("the schedulers logged %d refreshes applied, the journals hold %d", logged, journaled)
	}
}

// refreshes counts the refresh entries of the journal that key sees.
func (s *stack) refreshes(t *testing.T, key string) int {
	t.Helper()
	n := 0
	for _, e := range s.ledgerEntries(t, key) {
		if e.Type == "refresh" {
			n++
		}
	}
	return n
}

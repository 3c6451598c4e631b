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
// period is refreshed exactly once (the processes' logged counts add up to
// the journals' refresh entries, one per period each), used resets and
// allocated becomes the grant, and the journals replay.
func TestE2ESchedulerReplicas(t *testing.T) {
	t.Parallel()
	plans := filepath.Join(t.TempDir(), "plans.yaml")
	if err := os.WriteFile(plans, []byte(minutelyPlans), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true}, plans: plans})
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
	created := s.pool(t, accounts[0].key, "people")

	env := []string{"CREDITRUN_REDIS_URL=" + s.redis.URL(), "CREDITRUN_PLANS=" + plans, "CREDITRUN_DATA_DIR=" + s.dataDir}
	addrs := []string{freeAddr(t), freeAddr(t)}
	schedulers := []*proc{
		startProc(t, "scheduler", addrs[0], env...),
		startProc(t, "scheduler", addrs[1], env...),
	}

	// Two boundaries: each account's period has moved on at least twice.
	deadline := time.Now().Add(4 * time.Minute)
	for _, a := range accounts {
		for {
			p := s.pool(t, a.key, "people")
			if p.PeriodStart.After(created.PeriodEnd) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: period still starts %s after 4 minutes (created with %s to %s)", a.id, p.PeriodStart, created.PeriodStart, created.PeriodEnd)
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
		p := s.pool(t, a.key, "people")
		if p.Used != 0 || p.Allocated != 100 || p.Available != 100 {
			t.Errorf("%s after the refreshes: %+v", a.id, p)
		}
		refreshes := 0
		for _, e := range s.ledgerEntries(t, a.key) {
			if e.Type == "refresh" {
				refreshes++
			}
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
	if logged != journaled {
		t.Errorf("the schedulers logged %d refreshes applied, the journals hold %d", logged, journaled)
	}
}

package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"CREDITRUN_HTTP_ADDR": "0.0.0.0:9000", "CREDITRUN_RATE_LIMIT": "7", "CREDITRUN_LINK_TTL": "1h"}
	getenv := func(k string) string { return env[k] }
	c, _, err := parseConfig("api", []string{"--rate-limit", "9"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	// The flag wins over the environment, the environment over the default.
	if c.RateLimit != 9 || c.HTTPAddr != "0.0.0.0:9000" || c.LinkTTL != time.Hour || c.ResultTTL != 168*time.Hour ||
		c.WorkerConcurrency != 20 || c.DataDir != "./.creditrun" || c.S3Region != "us-east-1" || c.PartRecords != 1_000_000 ||
		c.WaitReplicas != 0 || c.ReaperGrace != 5*time.Minute {
		t.Fatalf("config %+v", c)
	}
	if c, _, err := parseConfig("scheduler", []string{"--reaper-grace", "20s"}, getenv); err != nil || c.ReaperGrace != 20*time.Second {
		t.Fatalf("--reaper-grace 20s: %+v, %v", c, err)
	}
	if c, _, err := parseConfig("api", nil, func(k string) string {
		return map[string]string{"CREDITRUN_REDIS_WAIT_REPLICAS": "1"}[k]
	}); err != nil || c.WaitReplicas != 1 {
		t.Fatalf("CREDITRUN_REDIS_WAIT_REPLICAS=1: %+v, %v", c, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-limit", "x"}, "rate-limit"},
		{[]string{"--worker-concurrency", "0"}, "worker-concurrency"},
		{[]string{"--link-ttl", "soon"}, "link-ttl"},
		{[]string{"--part-records", "0"}, "part-records"},
		{[]string{"--result-ttl", "-1h"}, "result-ttl"},
		{[]string{"--redis-wait-replicas", "-1"}, "redis-wait-replicas"},
		{[]string{"--redis-wait-replicas", "one"}, "redis-wait-replicas"},
		{[]string{"--reaper-grace", "-1m"}, "reaper-grace"},
		{[]string{"--reaper-grace", "later"}, "reaper-grace"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--nope"}, "not defined"},
	} {
		_, _, err := parseConfig("api", tt.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestParseConfigJournalRetention: the journal keeps 400 days unless
// CREDITRUN_JOURNAL_RETENTION says otherwise; 0 keeps everything, and a
// negative or unreadable value is refused.
func TestParseConfigJournalRetention(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want time.Duration
	}{
		{"", 400 * 24 * time.Hour},
		{"0", 0},
		{"720h", 720 * time.Hour},
	} {
		c, _, err := parseConfig("scheduler", nil, func(k string) string {
			return map[string]string{"CREDITRUN_JOURNAL_RETENTION": tt.env}[k]
		})
		if err != nil || c.JournalRetention != tt.want {
			t.Errorf("CREDITRUN_JOURNAL_RETENTION=%q: %s, %v; want %s", tt.env, c.JournalRetention, err, tt.want)
		}
	}
	for _, bad := range []string{"-1h", "a year"} {
		if _, _, err := parseConfig("scheduler", []string{"--journal-retention", bad}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "journal-retention") {
			t.Errorf("--journal-retention %q: %v", bad, err)
		}
	}
}

// TestParseConfigMemoryLimit: the soft memory limit follows the cgroup's
// unless CREDITRUN_MEMORY_LIMIT says off or a size.
func TestParseConfigMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want int64
	}{
		{"", memoryLimitAuto},
		{"auto", memoryLimitAuto},
		{"off", 0},
		{"1048576", 1 << 20},
		{"96MiB", 96 << 20},
		{"2GiB", 2 << 30},
		{"512KiB", 512 << 10},
		{"100B", 100},
	} {
		c, _, err := parseConfig("worker", nil, func(k string) string {
			return map[string]string{"CREDITRUN_MEMORY_LIMIT": tt.env}[k]
		})
		if err != nil || c.MemoryLimitBytes != tt.want {
			t.Errorf("CREDITRUN_MEMORY_LIMIT=%q: %d, %v; want %d", tt.env, c.MemoryLimitBytes, err, tt.want)
		}
	}
	for _, bad := range []string{"0", "-5MiB", "96MB", "lots", "MiB", "9999999999TiB"} {
		if _, _, err := parseConfig("worker", []string{"--memory-limit", bad}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "memory-limit") {
			t.Errorf("--memory-limit %q: %v", bad, err)
		}
	}
}

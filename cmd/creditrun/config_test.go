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
		c.WorkerConcurrency != 20 || c.DataDir != "./.creditrun" || c.S3Region != "us-east-1" || c.PartRecords != 1_000_000 {
		t.Fatalf("config %+v", c)
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
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--nope"}, "not defined"},
	} {
		_, _, err := parseConfig("api", tt.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseRedisURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want redisTarget
	}{
		{"redis://127.0.0.1:6379/2", redisTarget{mode: "single", addrs: []string{"127.0.0.1:6379"}, db: 2}},
		{"redis://u:p@h:1/0", redisTarget{mode: "single", addrs: []string{"h:1"}, user: "u", password: "p"}},
		{"redis+cluster://h1:1,h2:2", redisTarget{mode: "cluster", addrs: []string{"h1:1", "h2:2"}}},
		{"redis+cluster://:secret@h1:1", redisTarget{mode: "cluster", addrs: []string{"h1:1"}, password: "secret"}},
		{"redis+sentinel://s1:26379,s2:26379/mymaster/3", redisTarget{mode: "sentinel", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster", db: 3}},
	} {
		got, err := parseRedisURL(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(redisTarget{}), cmpopts.IgnoreFields(redisTarget{}, "tls")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.url, diff)
		}
	}
	for _, bad := range []string{"localhost:6379", "http://h:1", "redis+cluster://h1", "redis+sentinel://h:1", "redis+sentinel://h:1/m/x"} {
		if _, err := parseRedisURL(bad); err == nil || !strings.Contains(err.Error(), "redis url") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestRedisURLRedacted checks that a start with a bad Redis URL, or one
// whose server does not answer, never prints the URL's password, whatever
// part of the URL is wrong.
func TestRedisURLRedacted(t *testing.T) {
	const pass = "hunter2Sekrit"
	t.Setenv("CREDITRUN_ADMIN_KEY", "cr_admin_redacted_test")
	for _, u := range []string{
		"redis://user:" + pass + "@127.0.0.1:notaport/0",
		"redis://:" + pass + "@127.0.0.1:1/x",
		"redis://:" + pass + "@127.0.0.1:1/0/1",
		"redis://" + pass + "@127.0.0.1:1/x",
		"redis://:" + pass + "%zz@127.0.0.1:1/0",
		"redis://:" + pass + "\x7f@127.0.0.1:1/0",
		"redis://:" + pass + "@127.0.0.1:1/0", // parses; nothing listens
		"user:" + pass + "@127.0.0.1:1",
		"http://user:" + pass + "@127.0.0.1:1",
		"redis+cluster://user:" + pass + "@h1",
		"redis+cluster://user:" + pass + "%zz@h1:1",
		"redis+sentinel://:" + pass + "@h:1",
		"redis+sentinel://:" + pass + "@h:1/m/x",
	} {
		err := run(context.Background(), []string{"api", "--redis-url", u, "--http-addr", "127.0.0.1:0"})
		if err == nil {
			t.Errorf("%q: started", u)
			continue
		}
		if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "Sekrit") || strings.Contains(err.Error(), "%zz") {
			t.Errorf("the error prints the password: %v", err)
		}
		if !strings.Contains(err.Error(), "redis") {
			t.Errorf("%q: %v, which does not say it is about Redis", u, err)
		}
	}
	for raw, want := range map[string]string{
		"redis://u:p@h:1/0":            "redis://u:xxxxx@h:1/0",
		"redis://p@h:1/0":              "redis://xxxxx@h:1/0",
		"redis://h:1/0":                "redis://h:1/0",
		"redis+cluster://:p@a:1,b:2":   "redis+cluster://:xxxxx@a:1,b:2",
		"redis+sentinel://u:p@s:1/m/0": "redis+sentinel://u:xxxxx@s:1/m/0",
		"u:p@q@h:1":                    "u:xxxxx@h:1",
	} {
		if got := redactURL(raw); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

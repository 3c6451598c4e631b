package main

import (
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

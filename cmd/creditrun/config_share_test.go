package main

import (
	"strings"
	"testing"
)

// TestParseConfigShare checks the settings of what one account and one
// search may take: their defaults, the environment, and bad values.
func TestParseConfigShare(t *testing.T) {
	none := func(string) string { return "" }
	c, _, err := parseConfig("worker", nil, none)
	if err != nil || c.AccountConcurrency != 0 || c.SearchMaxSteps != 10_000_000_000 {
		t.Fatalf("defaults: account %d, search steps %d, %v; want 0 and 10000000000", c.AccountConcurrency, c.SearchMaxSteps, err)
	}
	env := map[string]string{"CREDITRUN_ACCOUNT_CONCURRENCY": "3", "CREDITRUN_SEARCH_MAX_STEPS": "0"}
	c, _, err = parseConfig("worker", nil, func(k string) string { return env[k] })
	if err != nil || c.AccountConcurrency != 3 || c.SearchMaxSteps != 0 {
		t.Fatalf("from the environment: account %d, search steps %d, %v; want 3 and 0", c.AccountConcurrency, c.SearchMaxSteps, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--account-concurrency", "-1"}, "account-concurrency"},
		{[]string{"--account-concurrency", "many"}, "account-concurrency"},
		{[]string{"--search-max-steps", "-5"}, "search-max-steps"},
		{[]string{"--search-max-steps", "1e9"}, "search-max-steps"},
	} {
		if _, _, err := parseConfig("worker", tt.args, none); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestAPINeedsAdminKey checks that every role that serves the API refuses to
// start without CREDITRUN_ADMIN_KEY, or with one too short to be a key,
// saying how to set it, and before it connects to anything; the roles
// without the API start without it.
func TestAPINeedsAdminKey(t *testing.T) {
	t.Setenv("CREDITRUN_ADMIN_KEY", "")
	// An address where nothing listens: a role that went on would fail on
	// Redis instead.
	base := []string{"--redis-url", "redis://127.0.0.1:1/0", "--http-addr", "127.0.0.1:0"}
	for _, run := range []struct {
		name string
		f    func(context.Context, []string) error
	}{{"api", runAPIRole}, {"all", runAll}} {
		err := run.f(context.Background(), append(base, "--dataset", t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "CREDITRUN_ADMIN_KEY is required") || !strings.Contains(err.Error(), "--admin-key") {
			t.Errorf("%s without an admin key: %v", run.name, err)
		}
		err = run.f(context.Background(), append(base, "--dataset", t.TempDir(), "--admin-key", "short"))
		if err == nil || !strings.Contains(err.Error(), "CREDITRUN_ADMIN_KEY must be") {
			t.Errorf("%s with a short admin key: %v", run.name, err)
		}
	}
	// The scheduler serves no API: it needs no admin key, and fails on
	// Redis.
	if err := runSchedulerRole(context.Background(), base); err == nil || strings.Contains(err.Error(), "ADMIN_KEY") {
		t.Errorf("scheduler without an admin key: %v", err)
	}
}

// TestComposeNeedsAdminKey checks that docker-compose.yml has no default
// admin key (compose refuses to start without one) and publishes the API on
// the loopback address only.
func TestComposeNeedsAdminKey(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "change_me") {
		t.Error("docker-compose.yml still has a default admin key")
	}
	var c struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for name, s := range c.Services {
		if v, ok := s.Environment["CREDITRUN_ADMIN_KEY"]; ok && !strings.HasPrefix(v, "${CREDITRUN_ADMIN_KEY:?") {
			t.Errorf("%s: CREDITRUN_ADMIN_KEY is %q, want ${CREDITRUN_ADMIN_KEY:?…}, which refuses to start without it", name, v)
		}
		if name != "api" {
			if _, ok := s.Environment["CREDITRUN_ADMIN_KEY"]; ok {
				t.Errorf("%s serves no API but gets the admin key", name)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q beyond the loopback address", name, p)
			}
		}
	}
	if _, ok := c.Services["api"].Environment["CREDITRUN_ADMIN_KEY"]; !ok {
		t.Error("the api service has no CREDITRUN_ADMIN_KEY")
	}
}

package main

import (
	"flag"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of docker-compose.yml that the test checks.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Deploy struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

// TestComposeFile holds docker-compose.yml to issue 5's topology: Redis
// with AOF and noeviction, an S3-compatible server and its bucket, and the
// API, two workers and the scheduler built from the one Dockerfile, each
// with a healthcheck, configured only through variables creditrun reads.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"redis", "s3", "bucket", "dataset", "api", "worker", "scheduler"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
	redisCmd := strings.Join(c.Services["redis"].Command, " ")
	if !strings.Contains(redisCmd, "--appendonly yes") || !strings.Contains(redisCmd, "--appendfsync always") ||
		!strings.Contains(redisCmd, "--maxmemory-policy noeviction") {
		t.Errorf("redis runs %q, want AOF on with appendfsync always, and noeviction", redisCmd)
	}
	// The environment variables creditrun reads, from its own flag set.
	_, fs, err := parseConfig("x", nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	fs.VisitAll(func(f *flag.Flag) {
		if i := strings.Index(f.Usage, "(env "); i >= 0 {
			known = append(known, strings.TrimSuffix(f.Usage[i+len("(env "):], ")"))
		}
	})
	for name, role := range map[string]string{"api": "api", "worker": "worker", "scheduler": "scheduler", "dataset": "dataset"} {
		s := c.Services[name]
		if s.Build != "." || s.Image != "creditrun:local" {
			t.Errorf("%s: build %v image %q, want the one Dockerfile", name, s.Build, s.Image)
		}
		if len(s.Command) == 0 || s.Command[0] != role {
			t.Errorf("%s: command %v", name, s.Command)
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "CREDITRUN_") && !slices.Contains(known, k) {
				t.Errorf("%s: %s is not a variable creditrun reads", name, k)
			}
		}
	}
	// Workers search the dataset; the API matches enrichment items and
	// counts a quote's records in it.
	for _, name := range []string{"api", "worker"} {
		if !slices.Contains(c.Services[name].Volumes, "dataset:/dataset:ro") {
			t.Errorf("%s: volumes %v, want the dataset read-only at /dataset", name, c.Services[name].Volumes)
		}
	}
	if n := c.Services["worker"].Deploy.Replicas; n != 2 {
		t.Errorf("worker replicas %d, want 2", n)
	}
	for _, name := range []string{"redis", "s3", "api", "worker", "scheduler"} {
		if hc := c.Services[name].Healthcheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	// Where a compose client is installed, it must accept the file too.
	clients := [][]string{{"docker-compose"}, {"docker", "compose"}}
	for _, client := range clients {
		if _, err := exec.LookPath(client[0]); err != nil {
			continue
		}
		version := append(slices.Clone(client), "version")
		if exec.Command(version[0], version[1:]...).Run() != nil {
			continue // a docker client without the compose plugin
		}
		args := append(slices.Clone(client[1:]), "-f", "../../docker-compose.yml", "config", "-q")
		// The admin key has no default: compose refuses the file without it.
		cmd := exec.Command(client[0], args...)
		cmd.Env = append(os.Environ(), "CREDITRUN_ADMIN_KEY=cr_admin_compose_test_key")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s config: %v\n%s", strings.Join(client, " "), err, out)
		}
		cmd = exec.Command(client[0], args...)
		cmd.Env = append(os.Environ(), "CREDITRUN_ADMIN_KEY=")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CREDITRUN_ADMIN_KEY") {
			t.Errorf("%s config without CREDITRUN_ADMIN_KEY: %v\n%s", strings.Join(client, " "), err, out)
		}
	}
}

package s3server_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/s3server"
)

// status GETs the endpoint anonymously; versitygw refuses with 403 and its
// Server header.
func status(endpoint string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(endpoint + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Server"), nil
}

func TestStartStopRestartClose(t *testing.T) {
	t.Parallel()
	s := s3server.T(t)
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("Endpoint %q is not on loopback", s.Endpoint())
	}
	if s.AccessKey() == "" || s.SecretKey() == "" || s.Region() != s3server.DefaultRegion {
		t.Fatalf("keys %q %q, region %q", s.AccessKey(), s.SecretKey(), s.Region())
	}
	if code, server, err := status(s.Endpoint()); err != nil || code != http.StatusForbidden || server != "VERSITYGW" {
		t.Fatalf("anonymous GET = %d %q %v", code, server, err)
	}
	// A bucket is a directory of the root: it must survive a restart.
	if err := os.Mkdir(filepath.Join(s.Dir(), "kept"), 0o755); err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := status(s.Endpoint()); err == nil {
		t.Fatal("the endpoint answers after Stop")
	}
	if s.Pid() != 0 {
		t.Fatal("Pid of a stopped server is not 0")
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop twice: %v", err)
	}
	endpoint := s.Endpoint()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Endpoint() != endpoint || s.Pid() == pid || s.Pid() == 0 {
		t.Fatalf("after Restart: endpoint %s (was %s), pid %d (was %d)", s.Endpoint(), endpoint, s.Pid(), pid)
	}
	if code, _, err := status(s.Endpoint()); err != nil || code != http.StatusForbidden {
		t.Fatalf("anonymous GET after Restart = %d %v", code, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "kept")); err != nil {
		t.Fatalf("the root lost its contents over a restart: %v", err)
	}
	dir := filepath.Dir(s.Dir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close twice: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left %s: %v", dir, err)
	}
	if _, _, err := status(endpoint); err == nil {
		t.Fatal("the endpoint answers after Close")
	}
	if err := s.Restart(); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

func TestMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := s3server.Start(s3server.Options{Binary: "no-such-versitygw-binary"})
	if !errors.Is(err, s3server.ErrNotFound) || !strings.Contains(err.Error(), "make test") {
		t.Fatalf("Start = %v, want ErrNotFound saying to run make test", err)
	}
}

func TestStartTimeoutQuotesLog(t *testing.T) {
	// A binary that exits at once: Start says so and quotes its output. It
	// is written before the test runs in parallel: a fork of a parallel
	// test could otherwise hold its handle open for writing, and running it
	// would fail with "text file busy".
	script := filepath.Join(t.TempDir(), "fake-versitygw")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'fake gateway refuses to start'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Parallel()
	_, err := s3server.Start(s3server.Options{Binary: script})
	if err == nil || !strings.Contains(err.Error(), "exited before answering") || !strings.Contains(err.Error(), "fake gateway refuses to start") {
		t.Fatalf("Start = %v", err)
	}
}

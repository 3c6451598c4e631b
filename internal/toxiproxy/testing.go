package toxiproxy

import (
	"errors"
	"os"
	"testing"
)

// notFoundHint is the message of a test that cannot find the server.
const notFoundHint = "toxiproxy-server not found: run `make tools` (`make test` runs it first)"

// T starts a server for the test and closes it when the test ends. When
// the server is not installed it skips the test with a hint, except under
// CI (CI set in the environment), where `make test` has run `make tools`
// and a missing server is a failure.
func T(t testing.TB) *Server {
	t.Helper()
	s, err := Start(Options{})
	if errors.Is(err, ErrNotFound) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (%v)", notFoundHint, err)
		}
		t.Skipf("%s (%v)", notFoundHint, err)
	}
	if err != nil {
		t.Fatalf("start toxiproxy-server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close toxiproxy-server: %v", err)
		}
	})
	return s
}

// ProxyT creates a proxy to upstream on s for the test, failing the test
// if it cannot.
func (s *Server) ProxyT(t testing.TB, name, upstream string) *Proxy {
	t.Helper()
	p, err := s.NewProxy(name, upstream)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

package s3server

import "testing"

// T starts a server for the test, closes it when the test ends, and fails
// the test if the server does not start.
func T(t testing.TB) *Server {
	t.Helper()
	return TWith(t, Options{})
}

// TWith is T with options.
func TWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close versitygw %s: %v", s.Addr(), err)
		}
	})
	return s
}

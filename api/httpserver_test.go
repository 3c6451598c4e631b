package api_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/api"
)

// serveWith serves e's API through api.NewHTTPServer with timeouts t, and
// returns its address.
func serveWith(t *testing.T, e *env, tt api.Timeouts) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config = api.NewHTTPServer(e.api, tt)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestSlowBodyCutOff: a client that sends its headers and then stops
// sending the body it announced holds its connection no longer than the
// read timeout.
func TestSlowBodyCutOff(t *testing.T) {
	e := newEnv(t)
	addr := serveWith(t, e, api.Timeouts{ReadHeader: time.Second, Read: 300 * time.Millisecond, Write: time.Minute, Idle: time.Minute})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/searches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+e.admin+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
	// Without a read timeout the server waits for the body for ever; the
	// test's own deadline, far past the server's, tells the two apart.
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server still holds a connection whose body never came")
	}
}

// TestStreamOutlastsWriteTimeout: a result file that takes longer to send
// than the write timeout arrives whole, as long as each write comes within
// the stall timeout; an ordinary route gets no such grace.
func TestStreamOutlastsWriteTimeout(t *testing.T) {
	const chunks = 8
	chunk := strings.Repeat("x", 1024) + "\n"
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for range chunks {
			_, _ = io.WriteString(w, chunk)
			http.NewResponseController(w).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	e := newEnv(t, func(c *apiConfig) { c.Files = slow; c.StallTimeout = 10 * time.Second })
	addr := serveWith(t, e, api.Timeouts{ReadHeader: time.Second, Read: time.Second, Write: 300 * time.Millisecond, Idle: time.Minute})
	resp, err := http.Get("http://" + addr + "/v1/files/some/file.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		n++
	}
	if resp.StatusCode != http.StatusOK || n != chunks {
		t.Fatalf("a stream of %d chunks over 800ms with a 300ms write timeout: %d, %d chunks (%v)", chunks, resp.StatusCode, n, sc.Err())
	}
}

package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// healthz answers 200 while the process is up.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the last answer of /readyz and when it was checked. One
// check runs at a time; the requests that arrive meanwhile wait for it and
// answer what it found.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	checks map[string]string
}

// readyz answers 200 when Redis answers a PING and storage its check within
// two seconds, and 503 unavailable otherwise. The answer names what failed,
// never why: the reasons (addresses, backend messages) go to the log. It is
// kept for Config.ReadyCacheTTL, so that probes cost the backends one check
// per TTL however many arrive.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := s.checkReady(r.Context())
	for _, v := range checks {
		if v != "ok" {
			ae := toAPIError(context.DeadlineExceeded)
			ae.Details = map[string]any{"checks": checks}
			writeJSON(w, ae.Status, ae)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

// checkReady returns the checks of Redis and storage, "ok" or
// "unavailable" each, from the last check when it is recent enough.
func (s *Server) checkReady(ctx context.Context) map[string]string {
	rd := &s.ready
	rd.mu.Lock()
	defer rd.mu.Unlock()
	now := s.cfg.NowFunc()
	if rd.checks != nil && now.Sub(rd.at) < s.cfg.ReadyCacheTTL {
		return rd.checks
	}
	// The check outlives a probe that gives up, so that the next one finds
	// its answer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	checks := map[string]string{"redis": "ok", "storage": "ok"}
	if err := s.client.Ping(ctx).Err(); err != nil {
		s.log.Warn("api: readyz: redis", "err", err)
		checks["redis"] = "unavailable"
	}
	if err := s.cfg.Storage.Check(ctx); err != nil {
		s.log.Warn("api: readyz: storage", "err", err)
		checks["storage"] = "unavailable"
	}
	rd.at, rd.checks = s.cfg.NowFunc(), checks
	return checks
}

// serveMetrics serves /metrics when Config.ServeMetrics says so, and
// answers 404 as for an unknown route otherwise.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.ServeMetrics {
		writeJSON(w, http.StatusNotFound, toAPIError(errRouteNotFound))
		return
	}
	s.metrics.handler().ServeHTTP(w, r)
}

// serveOpenAPI answers the OpenAPI 3 document of the API.
func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}

// files serves the signed links of the local storage backend, when cmd
// configured one.
func (s *Server) files(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		writeJSON(w, http.StatusNotFound, toAPIError(errRouteNotFound))
		return
	}
	s.cfg.Files.ServeHTTP(w, r)
}

// streaming serves h, whose response may be of any length, past the
// server's write timeout: each write moves the connection's write deadline
// Config.StallTimeout ahead, so a long download goes on while a client
// that stops reading is cut off.
func (s *Server) streaming(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: s.cfg.StallTimeout}
		sw.extend()
		h(sw, r)
	}
}

// stallWriter is a ResponseWriter that moves its write deadline forward on
// every write.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (w *stallWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.stall)) }

func (w *stallWriter) Write(b []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

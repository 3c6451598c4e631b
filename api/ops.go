package api

import (
	"context"
	"net/http"
	"time"
)

// healthz answers 200 while the process is up.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when Redis answers a PING and storage its check within
// two seconds, and 503 unavailable otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"redis": "ok", "storage": "ok"}
	ok := true
	if err := s.client.Ping(ctx).Err(); err != nil {
		s.log.Warn("api: readyz: redis", "err", err)
		checks["redis"], ok = err.Error(), false
	}
	if err := s.cfg.Storage.Check(ctx); err != nil {
		s.log.Warn("api: readyz: storage", "err", err)
		checks["storage"], ok = err.Error(), false
	}
	if !ok {
		ae := toAPIError(context.DeadlineExceeded)
		ae.Details = map[string]any{"checks": checks}
		writeJSON(w, ae.Status, ae)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
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

package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// accessKey is the context key of a request's *accessEntry.
type accessKey struct{}

// accessEntry is what the access log learns of a request while it is
// answered.
type accessEntry struct {
	keyID string
}

// noteKey records the id of the key a request authenticated with, for the
// access log.
func noteKey(r *http.Request, keyID string) {
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
		e.keyID = keyID
	}
}

// logAccess prepares the access log line of one request: it returns the
// writer and request to answer with, and done, which logs at info the
// method, path, status, duration, key id (when a key authenticated) and
// request id.
func (s *Server) logAccess(w http.ResponseWriter, r *http.Request, requestID string) (http.ResponseWriter, *http.Request, func()) {
	start := time.Now()
	e := &accessEntry{}
	r = r.WithContext(context.WithValue(r.Context(), accessKey{}, e))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	return sw, r, func() {
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
		}
		if e.keyID != "" {
			attrs = append(attrs, slog.String("key_id", e.keyID))
		}
		attrs = append(attrs, slog.String("request_id", requestID))
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "api: request", attrs...)
	}
}

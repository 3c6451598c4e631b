package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// probeMethods are the methods a path is tried with to find those it
// takes, for the Allow header of a 405.
var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// methodNotAllowedError is returned for a known path asked with a method
// it does not take. API.md's table has no row for it: 405
// method_not_allowed, with the methods in the Allow header and in
// details.allow.
type methodNotAllowedError struct {
	method string
	allow  []string
}

func (e *methodNotAllowedError) Error() string {
	return fmt.Sprintf("method %s not allowed; allowed: %s", e.method, strings.Join(e.allow, ", "))
}

// Message is the sentence the client reads.
func (e *methodNotAllowedError) Message() string {
	return fmt.Sprintf("This endpoint takes %s, not %s.", strings.Join(e.allow, ", "), e.method)
}

// noRoute answers a request no route serves: 405 with Allow when its path
// is served with other methods, else 404.
func (s *Server) noRoute(c *call) (int, any, error) {
	allow := s.allowed(c.r)
	if len(allow) == 0 {
		return 0, nil, errRouteNotFound
	}
	c.w.Header().Set("Allow", strings.Join(allow, ", "))
	return 0, nil, &methodNotAllowedError{method: c.r.Method, allow: allow}
}

// allowed returns the methods the mux serves r's path with, sorted.
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	slices.Sort(allow)
	return allow
}

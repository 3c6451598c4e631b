// Package console is creditrun's web console: server-rendered pages where
// finance clears overage holds, admins watch the queues, and customers see
// their credits, jobs and downloads.
//
// It is one more adapter on the API's process, beside the JSON API: its
// handlers call the same jobs service and ledger, sign people in with the
// same API keys (through package api's key lookup) and keep the same role
// rules. Pages are html/template files embedded in the binary, with a
// layout and one template per page; forms post and redirect, so every
// action works without JavaScript, and htmx (vendored from the npm
// registry, served from the binary) swaps a row or polls a job's progress
// where the browser runs it.
//
// Sessions live in Redis with an idle expiry (session.go); every form that
// changes state carries a CSRF token (csrf.go); every response carries a
// Content-Security-Policy that allows nothing from outside the console
// (headers.go).
package console

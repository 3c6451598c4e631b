package api

import (
	"net/http"
	"time"
)

// Timeouts are the limits an http.Server puts on each connection, so that a
// client that sends slowly, reads slowly or idles holds no connection for
// long.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (a 10 MiB
	// enrichment upload at the least).
	Read time.Duration
	// Write bounds a request from the end of its headers to the end of its
	// response. Result files and the holds export stream past it, each
	// write allowed Config.StallTimeout.
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next
	// request.
	Idle time.Duration
}

// DefaultTimeouts suit the API's routes: answers come within seconds, the
// biggest request body is 10 MiB, and downloads stream on their own terms.
var DefaultTimeouts = Timeouts{
	ReadHeader: 10 * time.Second,
	Read:       time.Minute,
	Write:      time.Minute,
	Idle:       2 * time.Minute,
}

// NewHTTPServer returns an http.Server for h with the timeouts t.
func NewHTTPServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}

package api

import "time"

// SetPendingTTL shortens how long a pending idempotency marker lives
// between renewals, so that a test can outlast it without waiting a
// minute. Call it before the server takes requests.
func (s *Server) SetPendingTTL(d time.Duration) { s.pendingTTL = d }

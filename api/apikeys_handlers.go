package api

import (
	"net/http"
	"time"
)

// keyView is a key as GET /v1/keys lists it: never its secret.
type keyView struct {
	ID         string     `json:"id"`
	Role       Role       `json:"role"`
	AccountID  *string    `json:"account_id"`
	CreatedAt  *time.Time `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// newKeyView shows k; a zero time is null.
func newKeyView(k KeyInfo) keyView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	v := keyView{ID: k.ID, Role: k.Role, CreatedAt: opt(k.CreatedAt), ExpiresAt: opt(k.ExpiresAt), LastUsedAt: opt(k.LastUsedAt)}
	if k.Account != "" {
		v.AccountID = &k.Account
	}
	return v
}

// newKeyResponse is the answer to a key's creation: the key and, this once,
// its secret.
type newKeyResponse struct {
	keyView
	APIKey string `json:"api_key"`
}

// createAccountKey is POST /v1/accounts/{id}/keys: another user key of an
// account. The body is optional; its role, if any, must be "user".
func (s *Server) createAccountKey(c *call) (int, any, error) {
	var req keyRequest
	if err := decodeJSON(c.body, &req, true); err != nil {
		return 0, nil, err
	}
	if req.Role != "" && Role(req.Role) != RoleUser {
		return 0, nil, fieldError("role", "must be \"user\" for an account's key; finance and admin keys come from POST /v1/keys")
	}
	expires, err := s.keyExpiry(req.ExpiresAt)
	if err != nil {
		return 0, nil, err
	}
	a, err := s.jobs.Account(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	info, secret, err := s.IssueKey(c.r.Context(), RoleUser, a.ID, expires)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, newKeyResponse{newKeyView(info), secret}, nil
}

// createStaffKey is POST /v1/keys: a finance or admin key.
func (s *Server) createStaffKey(c *call) (int, any, error) {
	var req keyRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	role := Role(req.Role)
	if role != RoleFinance && role != RoleAdmin {
		return 0, nil, fieldError("role", "must be \"finance\" or \"admin\"; user keys come from POST /v1/accounts/{id}/keys")
	}
	expires, err := s.keyExpiry(req.ExpiresAt)
	if err != nil {
		return 0, nil, err
	}
	info, secret, err := s.IssueKey(c.r.Context(), role, "", expires)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, newKeyResponse{newKeyView(info), secret}, nil
}

// keyExpiry reads a request's expires_at: nil is never (the zero time),
// else an RFC 3339 time in the future.
func (s *Server) keyExpiry(v *string) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return time.Time{}, fieldError("expires_at", "must be an RFC 3339 time such as 2030-01-31T00:00:00Z, or null for a key that never expires")
	}
	if !t.After(s.cfg.NowFunc()) {
		return time.Time{}, fieldError("expires_at", "must be in the future, got %s", t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// listKeys is GET /v1/keys: every key, without secrets.
func (s *Server) listKeys(c *call) (int, any, error) {
	return s.keyList(c, "")
}

// listAccountKeys is GET /v1/accounts/{id}/keys: an account's keys, without
// secrets.
func (s *Server) listAccountKeys(c *call) (int, any, error) {
	a, err := s.jobs.Account(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return s.keyList(c, a.ID)
}

func (s *Server) keyList(c *call, account string) (int, any, error) {
	keys, err := s.Keys(c.r.Context(), account)
	if err != nil {
		return 0, nil, err
	}
	views := make([]keyView, 0, len(keys))
	for _, k := range keys {
		views = append(views, newKeyView(k))
	}
	return http.StatusOK, map[string]any{"keys": views}, nil
}

// revokeKey is DELETE /v1/keys/{id}: the key is refused from now on by
// every API process. It answers the key as it was.
func (s *Server) revokeKey(c *call) (int, any, error) {
	info, err := s.RevokeKey(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newKeyView(info), nil
}

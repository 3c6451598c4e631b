package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
)

// sessionCookie names the cookie that carries a session's token.
const sessionCookie = "creditrun_console"

// session is one signed-in browser. Redis keeps it under the hash of its
// token, with the hash of the API key it signed in with (never the key),
// and forgets it after the idle timeout.
type session struct {
	tokenHash string
	Role      api.Role
	Account   string
	keyHash   string
	// CSRF is the token every state-changing form of the session carries.
	CSRF      string
	createdAt time.Time
}

// Staff reports whether the session is a finance or admin key's.
func (s *session) Staff() bool {
	return s != nil && (s.Role == api.RoleFinance || s.Role == api.RoleAdmin)
}

// Admin reports whether the session is an admin key's.
func (s *session) Admin() bool { return s != nil && s.Role == api.RoleAdmin }

// randomToken returns 32 random bytes, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// startSession stores a new session for id and returns its token.
func (c *Console) startSession(ctx context.Context, id api.Identity) (string, error) {
	token := randomToken()
	key := c.keys.session(tokenHash(token))
	_, err := c.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "role", string(id.Role), "account", id.Account, "key_hash", id.KeyHash,
			"csrf", randomToken(), "created_at", strconv.FormatInt(c.cfg.NowFunc().UnixMilli(), 10))
		p.Expire(ctx, key, c.cfg.IdleTimeout)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("start a console session: %w", err)
	}
	return token, nil
}

// loadSession returns the session of a request's cookie, nil when it has
// none or it ended (idle, past MaxAge, or its key revoked or expired). A
// live session's idle timer starts again. The key is looked up again on
// every request, so that revoking it ends its sessions at once.
func (c *Console) loadSession(ctx context.Context, r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie) // its only error is http.ErrNoCookie
	if errors.Is(err, http.ErrNoCookie) || ck.Value == "" || len(ck.Value) > 100 {
		return nil, nil
	}
	th := tokenHash(ck.Value)
	key := c.keys.session(th)
	m, err := c.cfg.Redis.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("read a console session: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	ms, _ := strconv.ParseInt(m["created_at"], 10, 64)
	s := &session{tokenHash: th, Role: api.Role(m["role"]), Account: m["account"], keyHash: m["key_hash"],
		CSRF: m["csrf"], createdAt: time.UnixMilli(ms)}
	if c.cfg.NowFunc().Sub(s.createdAt) >= c.cfg.MaxAge || s.CSRF == "" {
		c.endSession(ctx, s)
		return nil, nil
	}
	id, err := c.cfg.Keys.IdentifyHash(ctx, s.keyHash)
	if errors.Is(err, api.ErrUnknownKey) {
		c.endSession(ctx, s)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Role, s.Account = id.Role, id.Account
	if err := c.cfg.Redis.Expire(ctx, key, c.cfg.IdleTimeout).Err(); err != nil {
		return nil, fmt.Errorf("renew a console session: %w", err)
	}
	return s, nil
}

// endSession forgets a session. A failure is logged: the cookie is cleared
// anyway, and the session ends at its idle timeout.
func (c *Console) endSession(ctx context.Context, s *session) {
	if err := c.cfg.Redis.Del(ctx, c.keys.session(s.tokenHash)).Err(); err != nil {
		c.log.Warn("console: end a session", "err", err)
	}
}

// setSessionCookie sets (or, with token "", clears) the session cookie:
// HttpOnly, SameSite=Strict, for /console/ only, and Secure over https.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	ck := &http.Cookie{Name: sessionCookie, Value: token, Path: "/console/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)}
	if token == "" {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// pageFunc is a page or action of a signed-in session.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session)

// page runs h for a signed-in session of one of roles. Without a session it
// sends the browser to sign in (and back here after); a post must carry the
// session's CSRF token, or it is refused with 403 and changes nothing.
func (c *Console) page(roles []api.Role, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.loadSession(r.Context(), r)
		if err != nil {
			c.log.Error("console: session", "err", err)
			c.fail(w, r, nil, http.StatusServiceUnavailable, "The console cannot reach its store right now. Try again in a moment.")
			return
		}
		if r.Method == http.MethodPost && (s == nil || !validCSRF(r, s.CSRF)) {
			c.fail(w, r, s, http.StatusForbidden, "This form has expired or did not come from this console, so nothing was changed. Reload the page and try again.")
			return
		}
		if s == nil {
			next := ""
			if r.Method == http.MethodGet {
				next = "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			if r.Header.Get("HX-Request") == "true" {
				// htmx refreshing a part of a page whose session ended:
				// the whole page goes to the sign-in form.
				w.Header().Set("HX-Redirect", "/console/login"+next)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/login"+next, http.StatusSeeOther)
			return
		}
		if !slices.Contains(roles, s.Role) {
			c.fail(w, r, s, http.StatusForbidden, "This page is for "+roleNames(roles)+" keys; you signed in with a "+string(s.Role)+" key.")
			return
		}
		h(w, r, s)
	})
}

func roleNames(roles []api.Role) string {
	if slices.Equal(roles, admins) {
		return "admin"
	}
	return "finance and admin"
}

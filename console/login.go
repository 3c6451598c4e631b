package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/creditrun/creditrun/api"
)

// loginView is the sign-in page.
type loginView struct {
	Next    string
	Message string
	Error   string
}

// loginPage is GET /console/login: the sign-in form, with a fresh CSRF
// token in a cookie and in the form.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	v := loginView{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("signed_out") != "" {
		v.Message = "You are signed out."
	}
	c.renderLogin(w, r, http.StatusOK, v)
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/console/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	c.render(w, r, status, "login", frame{Title: "Sign in", CSRF: token, Data: v})
}

// login is POST /console/login: the key is checked as the API checks it,
// and a session starts for it. The key itself is kept nowhere.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || !validCSRF(r, ck.Value) {
		c.fail(w, r, nil, http.StatusForbidden, "This sign-in form has expired or did not come from this console. Open the sign-in page again.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	ok, err := c.allowSignIn(r.Context(), r)
	if err != nil {
		c.log.Error("console: sign in", "err", err)
		c.fail(w, r, nil, http.StatusServiceUnavailable, "The console cannot check keys right now. Try again in a moment.")
		return
	}
	if !ok {
		w.Header().Set("Retry-After", "60")
		c.fail(w, r, nil, http.StatusTooManyRequests, "Too many sign-in attempts from this address. Wait a minute and try again.")
		return
	}
	id, err := c.cfg.Keys.Identify(r.Context(), strings.TrimSpace(r.PostFormValue("key")))
	if errors.Is(err, api.ErrUnknownKey) {
		c.renderLogin(w, r, http.StatusUnauthorized, loginView{Next: next,
			Error: "That key is not known, or it was revoked or has expired. Check it and try again."})
		return
	}
	if err == nil {
		// A session this browser had ends: signing in always starts a
		// fresh one, under a token no one saw before.
		if old, cerr := r.Cookie(sessionCookie); cerr == nil && old.Value != "" {
			c.endSession(r.Context(), &session{tokenHash: tokenHash(old.Value)})
		}
		var token string
		if token, err = c.startSession(r.Context(), id); err == nil {
			setSessionCookie(w, r, token)
			http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/console/login", MaxAge: -1})
			if next == "" {
				next = "/console/"
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	c.log.Error("console: sign in", "err", err)
	c.fail(w, r, nil, http.StatusServiceUnavailable, "The console cannot check keys right now. Try again in a moment.")
}

// logout is POST /console/logout: the session ends here and in Redis.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.endSession(r.Context(), s)
	setSessionCookie(w, r, "")
	http.Redirect(w, r, "/console/login?signed_out=1", http.StatusSeeOther)
}

// safeNext returns next when it is a path of the console, "" otherwise, so
// that signing in never sends the browser to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

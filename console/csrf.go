package console

import (
	"crypto/subtle"
	"net/http"
)

// csrfField names the hidden field of every state-changing form.
const csrfField = "csrf"

// loginCSRFCookie carries the sign-in form's token before there is a
// session: the form's field must match it (a double-submit token).
const loginCSRFCookie = "creditrun_console_login"

// validCSRF reports whether a posted form carries want as its CSRF token.
// A request that says it comes from another origin is refused whatever it
// carries.
func validCSRF(r *http.Request, want string) bool {
	if want == "" || !sameOrigin(r) {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether the request's Origin header, when it names
// one, is the host the request was sent to. A browser may send "null" (a
// privacy setting): the token alone decides then.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	scheme := "http://"
	if isHTTPS(r) {
		scheme = "https://"
	}
	return o == scheme+r.Host || o == "http://"+r.Host || o == "https://"+r.Host
}

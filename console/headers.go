package console

import "net/http"

// contentSecurityPolicy allows the console's own scripts, styles and
// images only: no inline script or style, no other origin, no framing, and
// forms that post back to the console.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders sets the headers every console response carries.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Result links are presigned: a page must not hand its address to
	// another site. same-origin, not no-referrer, so that the browser
	// still sends the console its own Origin with a form.
	h.Set("Referrer-Policy", "same-origin")
}

// isHTTPS reports whether the browser reached the console over https,
// directly or through a proxy that says so; cookies are Secure then.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

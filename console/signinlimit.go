package console

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/go-redis/redis_rate/v10"
)

// signInsPerMinute bounds the sign-in attempts from one address, right or
// wrong, so that keys cannot be guessed at speed through the form.
const signInsPerMinute = 20

// allowSignIn reports whether the request's address may try to sign in now.
// Returns the Redis error when the count cannot be read.
func (c *Console) allowSignIn(ctx context.Context, r *http.Request) (bool, error) {
	res, err := c.limiter.Allow(ctx, c.keys.signIns(remoteHost(r)), redis_rate.PerMinute(signInsPerMinute))
	if err != nil {
		return false, fmt.Errorf("count sign-in attempts: %w", err)
	}
	return res.Allowed > 0, nil
}

// remoteHost is the address the request came from, without its port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

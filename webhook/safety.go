package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
)

// ErrUnsafeURL is returned for a URL that webhooks may not call: not https,
// or resolving to a loopback, private, link-local or otherwise internal
// address, while private targets are not allowed.
var ErrUnsafeURL = errors.New("unsafe webhook URL")

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), internal
// as private ranges are.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internal reports whether ip is an address a webhook may not reach unless
// private targets are allowed.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || cgnat.Contains(ip)
}

// CheckURL returns an error wrapping ErrUnsafeURL unless raw is an absolute
// https URL (http too when allowPrivate) whose host resolves, through r, to
// public addresses only (any address when allowPrivate). A nil r is
// net.DefaultResolver.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, r *net.Resolver) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeURL, err)
	}
	switch {
	case u.Scheme != "https" && !(allowPrivate && u.Scheme == "http"):
		return fmt.Errorf("%w: the URL must be https", ErrUnsafeURL)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: the URL has no host", ErrUnsafeURL)
	case u.User != nil:
		return fmt.Errorf("%w: the URL may not carry credentials", ErrUnsafeURL)
	case len(raw) > 2048:
		return fmt.Errorf("%w: the URL is longer than 2048 characters", ErrUnsafeURL)
	}
	if allowPrivate {
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if internal(ip) {
			return fmt.Errorf("%w: %s is not a public address", ErrUnsafeURL, ip)
		}
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: %s does not resolve: %v", ErrUnsafeURL, host, err)
	}
	for _, ip := range addrs {
		if internal(ip) {
			return fmt.Errorf("%w: %s resolves to %s, not a public address", ErrUnsafeURL, host, ip)
		}
	}
	return nil
}

// dialControl refuses a connection to an internal address: it runs after
// name resolution, on the very address connected to, at every delivery, so
// a name that resolved to a public address at registration and to a private
// one now (DNS rebinding) is refused too.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnsafeURL, address, err)
	}
	if internal(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrUnsafeURL, ap.Addr())
	}
	return nil
}

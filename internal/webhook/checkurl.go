package webhook

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// MaxURLLen bounds a validator URL.
const MaxURLLen = 2048

// URLError explains why a validator URL was refused. Msg is meant for the
// admin who saved it and never quotes the URL.
type URLError struct{ Msg string }

func (e *URLError) Error() string { return e.Msg }

// parseTarget does the checks on a URL that need no network.
func parseTarget(raw string, allowInsecure bool) (*url.URL, error) {
	if raw == "" {
		return nil, &URLError{Msg: "url is required"}
	}
	if len(raw) > MaxURLLen {
		return nil, &URLError{Msg: "url is too long"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &URLError{Msg: "url is not valid"}
	}
	if !u.IsAbs() || u.Opaque != "" {
		return nil, &URLError{Msg: "url must be absolute"}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	case allowInsecure:
		return nil, &URLError{Msg: "url must use http or https"}
	default:
		return nil, &URLError{Msg: "url must use https"}
	}
	if u.User != nil {
		return nil, &URLError{Msg: "url must not contain credentials"}
	}
	if u.Hostname() == "" {
		return nil, &URLError{Msg: "url must have a host"}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, &URLError{Msg: "url has an invalid port"}
		}
	}
	return u, nil
}

// CheckURL validates a validator URL when an admin saves it: absolute, https
// (http too when allowInsecure), a host, no userinfo. Unless allowInsecure, an
// IP-literal host must be public and a name must resolve, through resolver
// (net.DefaultResolver when nil), only to public addresses. The dialer checks
// again at every connection; this check gives the admin an early answer.
func CheckURL(ctx context.Context, raw string, allowInsecure bool, resolver *net.Resolver) error {
	u, err := parseTarget(raw, allowInsecure)
	if err != nil || allowInsecure {
		return err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !IsPublic(ip) {
			return &URLError{Msg: "url host is not a public address"}
		}
		return nil
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return &URLError{Msg: "url host could not be resolved"}
	}
	for _, a := range addrs {
		if !IsPublic(a) {
			return &URLError{Msg: "url host resolves to a non-public address"}
		}
	}
	return nil
}

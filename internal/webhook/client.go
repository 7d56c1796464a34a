package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

const (
	// DefaultTimeout applies when Options.Timeout is not positive.
	DefaultTimeout = 10 * time.Second
	// MaxResponseBody is how much of a response body is read (and discarded).
	MaxResponseBody = 64 << 10
)

// ErrForbiddenAddress is wrapped by a DeliveryError when the dialer refused to
// connect to a non-public address.
var ErrForbiddenAddress = errors.New("address is not public")

type forbiddenAddrError struct{ addr string }

func (e *forbiddenAddrError) Error() string        { return fmt.Sprintf("address %s is not public", e.addr) }
func (e *forbiddenAddrError) Is(target error) bool { return target == ErrForbiddenAddress }

// Options configures a Client.
type Options struct {
	Timeout       time.Duration // whole request, connect to end of body; DefaultTimeout if <= 0
	AllowInsecure bool          // disables the SSRF guard (local stacks only)
	// Resolver looks up validator hosts; nil is the system's DNS. Tests set
	// it to a fake DNS to make a name rebind to a private address.
	Resolver *net.Resolver
}

// Outcome describes a call that got a response.
type Outcome struct {
	StatusCode int
	Duration   time.Duration
}

// DeliveryError is the single error type Post returns. Reason is short,
// human-readable and safe to store and show: it never contains the URL or a
// header value. The underlying cause is kept for errors.Is/As only.
type DeliveryError struct {
	Reason     string
	Retryable  bool
	StatusCode int // 0 when no response was received
	cause      error
}

func (e *DeliveryError) Error() string { return "webhook delivery failed: " + e.Reason }
func (e *DeliveryError) Unwrap() error { return e.cause }

// Client posts webhook calls to validators.
type Client struct {
	http          *http.Client
	transport     *http.Transport
	dialer        *net.Dialer
	timeout       time.Duration
	allowInsecure bool
	now           func() time.Time
}

// NewClient returns a client that never follows redirects, ignores proxy
// settings and, unless opts.AllowInsecure, refuses at connect time every
// address that is not public. The check runs in the dialer, after DNS, for
// every connection attempt, so DNS rebinding cannot get around it.
func NewClient(opts Options) *Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: opts.Resolver}
	if !opts.AllowInsecure {
		dialer.Control = refuseNonPublic
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		MaxIdleConns:          64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{
		http: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		transport:     transport,
		dialer:        dialer,
		timeout:       timeout,
		allowInsecure: opts.AllowInsecure,
		now:           time.Now,
	}
}

// refuseNonPublic is a net.Dialer Control function: address is the resolved
// "ip:port" about to be connected to.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &forbiddenAddrError{addr: "(unparsable)"}
	}
	if !IsPublic(ap.Addr()) {
		return &forbiddenAddrError{addr: ap.Addr().String()}
	}
	return nil
}

// Post sends body to rawURL with the given headers. A 2xx response is a
// success; anything else returns a *DeliveryError (with the Outcome filled in
// when a response was received). Only 410 Gone is not retryable.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (Outcome, error) {
	start := c.now()
	if _, err := parseTarget(rawURL, c.allowInsecure); err != nil {
		return Outcome{}, &DeliveryError{Reason: err.Error(), Retryable: true, cause: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Outcome{}, &DeliveryError{Reason: "url is not valid", Retryable: true}
	}
	if header != nil {
		req.Header = header.Clone()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Outcome{Duration: c.now().Sub(start)}, c.classify(ctx, err)
	}
	// The body is ignored, but reading a bounded part lets small responses
	// finish cleanly; a larger one is cut off by closing.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBody))
	_ = resp.Body.Close()

	out := Outcome{StatusCode: resp.StatusCode, Duration: c.now().Sub(start)}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return out, nil
	case code >= 300 && code < 400:
		return out, &DeliveryError{Reason: fmt.Sprintf("redirect not followed (HTTP %d)", code), Retryable: true, StatusCode: code}
	case code == http.StatusGone:
		return out, &DeliveryError{Reason: "HTTP 410", Retryable: false, StatusCode: code}
	default:
		return out, &DeliveryError{Reason: fmt.Sprintf("HTTP %d", code), Retryable: true, StatusCode: code}
	}
}

// classify turns a transport error into a DeliveryError. Reasons are built
// from fixed text and a few vetted fields, never from err.Error(): the
// url.Error text carries the URL, and some transport errors quote bytes the
// server sent back, which could echo our Authorization header.
func (c *Client) classify(ctx context.Context, err error) *DeliveryError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	de := &DeliveryError{Retryable: true, cause: err}
	var (
		forbidden *forbiddenAddrError
		dnsErr    *net.DNSError
		certErr   *tls.CertificateVerificationError
		recErr    tls.RecordHeaderError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &forbidden):
		de.Reason = forbidden.Error()
	case errors.Is(ctx.Err(), context.Canceled):
		de.Reason = "canceled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		de.Reason = "caller deadline exceeded"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		de.Reason = fmt.Sprintf("timeout after %s", c.timeout)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			de.Reason = fmt.Sprintf("dns lookup of %s failed: no such host", dnsErr.Name)
		} else {
			de.Reason = fmt.Sprintf("dns lookup of %s failed", dnsErr.Name)
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		de.Reason = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		de.Reason = "connection reset by peer"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		de.Reason = "host unreachable"
	case errors.As(err, &certErr):
		de.Reason = "tls certificate verification failed"
		if certErr.Err != nil {
			de.Reason += ": " + certErr.Err.Error() // x509 text: names and authorities only
		}
	case err.Error() == "http: server gave HTTP response to HTTPS client": // net/http's fixed text, no sentinel
		de.Reason = "tls handshake failed: server answered with plain HTTP"
	case errors.As(err, &recErr):
		de.Reason = "tls handshake failed: server did not answer with TLS"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		de.Reason = "connection closed before a response"
	default:
		de.Reason = "request failed: no valid HTTP response"
	}
	return de
}

package webhook

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/dnstest"
)

const authSecret = "Bearer sk_live_do-not-leak-4242"

func secretHeader() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", authSecret)
	h.Set("X-Api-Key", "xk_do-not-leak-9999")
	return h
}

// server starts an httptest server on 127.0.0.1 and counts requests.
func server(t *testing.T, tls bool, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	wrapped := func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(http.HandlerFunc(wrapped))
	} else {
		srv = httptest.NewServer(http.HandlerFunc(wrapped))
	}
	t.Cleanup(srv.Close)
	return srv, &hits
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func checkNoLeak(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range []string{authSecret, "sk_live", "do-not-leak", "127.0.0.1:"} {
		if strings.Contains(err.Error(), v) {
			t.Fatalf("error %q leaks %q", err, v)
		}
	}
}

func TestPostSuccess(t *testing.T) {
	var got struct {
		method, auth, key, ctype string
		body                     []byte
	}
	srv, _ := server(t, false, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.auth, got.key, got.ctype = r.Method, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	c := NewClient(Options{Timeout: 5 * time.Second, AllowInsecure: true})
	clock := []time.Time{time.Unix(100, 0), time.Unix(101, 500e6)}
	c.now = func() time.Time { t := clock[0]; clock = clock[1:]; return t }

	out, err := c.Post(context.Background(), srv.URL+"/hook", secretHeader(), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != http.StatusAccepted || out.Duration != 1500*time.Millisecond {
		t.Fatalf("outcome = %+v", out)
	}
	if got.method != http.MethodPost || got.auth != authSecret || got.key != "xk_do-not-leak-9999" || got.ctype != "application/json" || string(got.body) != `{"a":1}` {
		t.Fatalf("server saw %+v", got)
	}
}

func TestPostOverTLS(t *testing.T) {
	srv, _ := server(t, true, status(http.StatusOK))
	c := NewClient(Options{Timeout: 5 * time.Second, AllowInsecure: true})

	// Certificates are verified: the test CA is unknown to the client.
	_, err := c.Post(context.Background(), srv.URL, secretHeader(), nil)
	var de *DeliveryError
	if !errors.As(err, &de) || !strings.HasPrefix(de.Reason, "tls certificate verification failed") || !de.Retryable {
		t.Fatalf("err = %v", err)
	}
	checkNoLeak(t, err)

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	c.transport.TLSClientConfig.RootCAs = pool
	if out, err := c.Post(context.Background(), srv.URL, secretHeader(), nil); err != nil || out.StatusCode != 200 {
		t.Fatalf("trusted TLS: %+v, %v", out, err)
	}
}

func TestPostFailures(t *testing.T) {
	redirectTarget, targetHits := server(t, false, status(http.StatusOK))
	redirect := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTarget.URL+"/elsewhere", code)
		}
	}
	// blockUntilGone holds the response until the client gives up. The body
	// is read first: only then does the server notice a closed connection
	// and cancel the request context.
	blockUntilGone := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}
	headersThenStall := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	endless := func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	refusedURL := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return "http://" + addr + "/"
	}()
	// echoGarbage answers with an invalid HTTP response quoting the request,
	// Authorization header included.
	echoGarbage := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer conn.Close()
					req, err := http.ReadRequest(bufio.NewReader(conn))
					if err != nil {
						return
					}
					_, _ = io.WriteString(conn, "HTTP/1.1 OK "+req.Header.Get("Authorization")+"\r\n\r\n")
				}()
			}
		}()
		return "http://" + l.Addr().String() + "/"
	}()
	plainSrv, _ := server(t, false, status(http.StatusOK))

	tests := []struct {
		name       string
		handler    http.HandlerFunc // nil: use url
		url        string
		timeout    time.Duration
		ctx        func() (context.Context, context.CancelFunc)
		wantOK     bool
		wantStatus int
		wantReason string // prefix
		retryable  bool
		wantIs     error
	}{
		{name: "204 is success", handler: status(http.StatusNoContent), wantOK: true, wantStatus: 204},
		{name: "500", handler: status(http.StatusInternalServerError), wantStatus: 500, wantReason: "HTTP 500", retryable: true},
		{name: "404", handler: status(http.StatusNotFound), wantStatus: 404, wantReason: "HTTP 404", retryable: true},
		{name: "429", handler: status(http.StatusTooManyRequests), wantStatus: 429, wantReason: "HTTP 429", retryable: true},
		{name: "410 is final", handler: status(http.StatusGone), wantStatus: 410, wantReason: "HTTP 410", retryable: false},
		{name: "302 not followed", handler: redirect(http.StatusFound), wantStatus: 302, wantReason: "redirect not followed (HTTP 302)", retryable: true},
		{name: "307 not followed", handler: redirect(http.StatusTemporaryRedirect), wantStatus: 307, wantReason: "redirect not followed (HTTP 307)", retryable: true},
		{name: "304", handler: status(http.StatusNotModified), wantStatus: 304, wantReason: "redirect not followed (HTTP 304)", retryable: true},
		{name: "slow headers time out", handler: blockUntilGone, timeout: 100 * time.Millisecond, wantReason: "timeout after 100ms", retryable: true, wantIs: context.DeadlineExceeded},
		{name: "slow body after 2xx is still delivered", handler: headersThenStall, timeout: 200 * time.Millisecond, wantOK: true, wantStatus: 200},
		{name: "oversize body is cut off", handler: endless, wantOK: true, wantStatus: 200},
		{name: "caller canceled", handler: blockUntilGone, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, wantReason: "canceled", retryable: true, wantIs: context.Canceled},
		{name: "caller deadline", handler: blockUntilGone, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, wantReason: "caller deadline exceeded", retryable: true},
		{name: "connection refused", url: refusedURL, wantReason: "connection refused", retryable: true},
		{name: "malformed response quoting our header", url: echoGarbage, wantReason: "request failed", retryable: true},
		{name: "https to a plain HTTP server", url: strings.Replace(plainSrv.URL, "http://", "https://", 1), wantReason: "tls handshake failed", retryable: true},
		{name: "unsupported scheme", url: "ftp://127.0.0.1/", wantReason: "url must use http or https", retryable: true},
		{name: "malformed url", url: "http://[::1", wantReason: "url is not valid", retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if tt.handler != nil {
				srv, _ := server(t, false, tt.handler)
				u = srv.URL + "/hook"
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			c := NewClient(Options{Timeout: timeout, AllowInsecure: true})

			out, err := c.Post(ctx, u, secretHeader(), []byte(`{}`))
			checkNoLeak(t, err)
			if out.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", out.StatusCode, tt.wantStatus)
			}
			if tt.wantOK {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %#v, want *DeliveryError", err)
			}
			if !strings.HasPrefix(de.Reason, tt.wantReason) || de.Retryable != tt.retryable || de.StatusCode != tt.wantStatus {
				t.Fatalf("DeliveryError = %+v, want reason %q retryable %v status %d", de, tt.wantReason, tt.retryable, tt.wantStatus)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if errors.Is(err, ErrForbiddenAddress) {
				t.Fatal("unexpected ErrForbiddenAddress")
			}
		})
	}
	if n := targetHits.Load(); n != 0 {
		t.Fatalf("redirect target was hit %d times", n)
	}
}

func TestPostDNSFailure(t *testing.T) {
	c := NewClient(Options{Timeout: 5 * time.Second, Resolver: dnstest.New(nil).Resolver()})
	_, err := c.Post(context.Background(), "https://nxdomain.test/hook", secretHeader(), nil)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Reason != "dns lookup of nxdomain.test failed: no such host" || !de.Retryable {
		t.Fatalf("err = %v", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Fatal("cause is not a *net.DNSError")
	}

	c = NewClient(Options{Timeout: 5 * time.Second, Resolver: offlineResolver()})
	_, err = c.Post(context.Background(), "https://unreachable-dns.test/hook", secretHeader(), nil)
	if !errors.As(err, &de) || de.Reason != "dns lookup of unreachable-dns.test failed" {
		t.Fatalf("err = %v", err)
	}
}

func TestPostRefusesNonPublicAddresses(t *testing.T) {
	srv, hits := server(t, true, status(http.StatusOK))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	portStr := ":" + strconv.Itoa(port)

	dns := dnstest.New(map[string][][]netip.Addr{
		// Public when the URL is checked, loopback when the dialer resolves.
		"rebind.test.":  {{netip.MustParseAddr("93.184.216.34")}, {netip.MustParseAddr("127.0.0.1")}},
		"private.test.": {{netip.MustParseAddr("10.0.0.1")}},
		"meta.test.":    {{netip.MustParseAddr("169.254.169.254")}},
	})
	if err := CheckURL(context.Background(), "https://rebind.test"+portStr+"/", false, dns.Resolver()); err != nil {
		t.Fatalf("first resolution should look public: %v", err)
	}

	tests := []struct {
		name, url, addr string
	}{
		{"loopback literal", srv.URL + "/hook", "127.0.0.1"},
		{"localhost", "https://localhost" + portStr + "/hook", "127.0.0.1"},
		{"IPv6 loopback", "https://[::1]" + portStr + "/hook", "::1"},
		{"mapped loopback", "https://[::ffff:127.0.0.1]" + portStr + "/hook", "127.0.0.1"}, // the dialer sees it unmapped
		{"DNS rebinding to loopback", "https://rebind.test" + portStr + "/hook", "127.0.0.1"},
		{"name resolving to RFC 1918", "https://private.test/hook", "10.0.0.1"},
		{"name resolving to metadata", "https://meta.test/hook", "169.254.169.254"},
		{"RFC 1918 literal", "https://10.0.0.1/hook", "10.0.0.1"},
		{"unspecified", "https://0.0.0.0" + portStr + "/", "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(Options{Timeout: 5 * time.Second, Resolver: dns.Resolver()})
			_, err := c.Post(context.Background(), tt.url, secretHeader(), nil)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("err = %v, want ErrForbiddenAddress", err)
			}
			var de *DeliveryError
			if !errors.As(err, &de) || de.Reason != "address "+tt.addr+" is not public" || !de.Retryable {
				t.Fatalf("DeliveryError = %+v", de)
			}
			checkNoLeak(t, err)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("server was reached %d times", n)
	}

	// The same client setup with AllowInsecure reaches the server, so the
	// refusals above came from the guard and not from a broken setup.
	c := NewClient(Options{Timeout: 5 * time.Second, AllowInsecure: true})
	c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	if _, err := c.Post(context.Background(), srv.URL, nil, nil); err != nil {
		t.Fatalf("insecure client: %v", err)
	}

	// Without AllowInsecure plain http is refused before dialing.
	c = NewClient(Options{Timeout: 5 * time.Second})
	_, err := c.Post(context.Background(), "http://93.184.216.34/", nil, nil)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Reason != "url must use https" {
		t.Fatalf("err = %v", err)
	}
}

func TestRefuseNonPublic(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.216.34:443", true},
		{"[2606:4700::1111]:443", true},
		{"127.0.0.1:443", false},
		{"[::1]:443", false},
		{"[::ffff:10.0.0.1]:80", false},
		{"[fe80::1%eth0]:80", false},
		{"169.254.169.254:80", false},
		{"not-an-address", false},
		{"example.com:443", false},
	} {
		err := refuseNonPublic("tcp", tt.addr, nil)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrForbiddenAddress)) {
			t.Errorf("refuseNonPublic(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}

func TestNewClientDefaults(t *testing.T) {
	c := NewClient(Options{})
	if c.http.Timeout != DefaultTimeout || c.dialer.Control == nil || c.transport.Proxy != nil || c.http.CheckRedirect == nil {
		t.Fatalf("defaults not applied: timeout %s, guard %v", c.http.Timeout, c.dialer.Control != nil)
	}
	if NewClient(Options{AllowInsecure: true}).dialer.Control != nil {
		t.Fatal("insecure client still guards the dialer")
	}
}

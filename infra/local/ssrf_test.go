package local_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/dnstest"
)

// countingListener accepts TCP connections on addr and counts them; the
// SSRF tests expect none.
func countingListener(t *testing.T, addr string) (port int, accepted *atomic.Int32, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int32{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted, nil
}

// TestSSRFGuardRefusesRebindingAtConnectTime is the SSRF guard end to end with the
// guard on (ALLOW_INSECURE_WEBHOOK_URLS=false): each validator host name
// resolves to a public address when the admin saves the URL, so the save
// passes, and to a forbidden one when the dispatcher connects (DNS
// rebinding). The dialer refuses every attempt, the listener on that port
// gets no connection, and after WEBHOOK_MAX_ATTEMPTS the request is pending
// with the refusal in its timeline.
func TestSSRFGuardRefusesRebindingAtConnectTime(t *testing.T) {
	port, accepted, err := countingListener(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The same port on ::1 too, where the host has IPv6 loopback.
	accepted6 := &atomic.Int32{}
	if _, a, err := countingListener(t, "[::1]:"+strconv.Itoa(port)); err == nil {
		accepted6 = a
	}
	public := netip.MustParseAddr("93.184.216.34")
	cases := []struct{ host, addr, refused string }{
		{"loopback.rebind.test", "127.0.0.1", "127.0.0.1"},
		{"private.rebind.test", "10.0.0.1", "10.0.0.1"},
		{"metadata.rebind.test", "169.254.169.254", "169.254.169.254"},
		{"ipv6-loopback.rebind.test", "::1", "::1"},
		{"mapped.rebind.test", "::ffff:127.0.0.1", "127.0.0.1"}, // the dialer sees it unmapped
	}
	answers := map[string][][]netip.Addr{}
	for _, c := range cases {
		answers[c.host+"."] = [][]netip.Addr{{public}, {netip.MustParseAddr(c.addr)}}
	}
	dns := dnstest.New(answers)

	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const maxAttempts = 2
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Resolver: dns.Resolver(),
		Env: map[string]string{"ALLOW_INSECURE_WEBHOOK_URLS": "false", "WEBHOOK_MAX_ATTEMPTS": strconv.Itoa(maxAttempts), "WEBHOOK_BACKOFF": "50ms"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	c := adminOf(t, sys)

	// With the guard on, the save-time check wants https and a public host.
	conn := unique("ssrfconn")
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
	for url, want := range map[string]string{
		"http://loopback.rebind.test:" + strconv.Itoa(port) + "/hook": "url must use https",
		"https://127.0.0.1:" + strconv.Itoa(port) + "/hook":           "url host is not a public address",
	} {
		status, raw := c.do("PUT", "/connection/"+conn+"/secret", map[string]any{"url": url, "authorization": "Bearer x"})
		if status != 422 || !strings.Contains(string(raw), want) {
			t.Fatalf("saving %s: %d %s, want 422 %q", url, status, raw, want)
		}
	}

	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			hook := unique("ssrf")
			c.webhookAt("https://"+tc.host+":"+strconv.Itoa(port)+"/hook", hook) // resolves public: saved
			id, status := c.submit()
			if status != "awaiting_pre_approval" {
				t.Fatalf("submitted request is %s", status)
			}
			var got dispatchedRequest
			waitUntil(t, 60*time.Second, func() bool {
				c.must(200, "GET", "/privacy-request/"+id, nil, &got)
				return len(got.Webhooks) == 1 && got.Webhooks[0].State == "failed"
			})
			if got.Status != "pending" || got.Webhooks[0].Attempts != maxAttempts {
				t.Fatalf("request after the attempts: %+v", got)
			}
			var act activityOut
			c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
			want := "Pre-approval webhook 'Hook " + hook + "' failed after " + strconv.Itoa(maxAttempts) + " attempts: address " + tc.refused + " is not public"
			if !hasActivity(act, "pre_approval_webhook_failed", want) {
				var entries []string
				for _, e := range act.Items {
					entries = append(entries, e.Action+": "+deref(e.Message))
				}
				t.Fatalf("no entry %q in %q", want, entries)
			}
			// One lookup when saved, then at least one per attempt: every
			// attempt resolved the name again and was refused after DNS.
			if n := dns.Lookups(tc.host + "."); n < 1+maxAttempts {
				t.Fatalf("%s looked up %d times, want at least %d", tc.host, n, 1+maxAttempts)
			}
		})
	}
	if n, n6 := accepted.Load(), accepted6.Load(); n != 0 || n6 != 0 {
		t.Fatalf("the loopback listener accepted %d (IPv4) and %d (IPv6) connections, want none", n, n6)
	}
}

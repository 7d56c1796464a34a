package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/pregate/pregate/internal/dnstest"
)

func TestCheckURL(t *testing.T) {
	dns := dnstest.New(map[string][][]netip.Addr{
		"public.test.":  {{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:2800:220:1::1")}},
		"mixed.test.":   {{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")}},
		"private.test.": {{netip.MustParseAddr("192.168.0.10")}},
		"mapped6.test.": {{netip.MustParseAddr("::ffff:127.0.0.1")}},
		"meta.test.":    {{netip.MustParseAddr("169.254.169.254")}},
		"ula.test.":     {{netip.MustParseAddr("fd00::1")}},
	})
	tests := []struct {
		name     string
		url      string
		insecure bool
		resolver *net.Resolver
		wantMsg  string // "" means accepted
	}{
		{name: "public IPv4 literal", url: "https://93.184.216.34/hook"},
		{name: "public IPv6 literal", url: "https://[2606:4700::1111]:8443/hook?x=1#f"},
		{name: "upper-case scheme", url: "HTTPS://93.184.216.34/"},
		{name: "name resolving to public addresses", url: "https://public.test/validate", resolver: dns.Resolver()},
		{name: "name resolving to one private address", url: "https://mixed.test/", resolver: dns.Resolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "name resolving to private", url: "https://private.test/", resolver: dns.Resolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "name resolving to mapped loopback", url: "https://mapped6.test/", resolver: dns.Resolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "name resolving to metadata", url: "https://meta.test/", resolver: dns.Resolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "name resolving to ULA", url: "https://ula.test/", resolver: dns.Resolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "unknown name", url: "https://nxdomain.test/", resolver: dns.Resolver(), wantMsg: "url host could not be resolved"},
		{name: "dns unreachable", url: "https://example.com/", resolver: offlineResolver(), wantMsg: "url host could not be resolved"},
		{name: "localhost", url: "https://localhost:8443/", resolver: offlineResolver(), wantMsg: "url host resolves to a non-public address"},
		{name: "loopback literal", url: "https://127.0.0.1/", wantMsg: "url host is not a public address"},
		{name: "IPv6 loopback literal", url: "https://[::1]/", wantMsg: "url host is not a public address"},
		{name: "mapped private literal", url: "https://[::ffff:10.0.0.1]/", wantMsg: "url host is not a public address"},
		{name: "link-local with zone", url: "https://[fe80::1%25eth0]/", wantMsg: "url host is not a public address"},
		{name: "metadata literal", url: "http://169.254.169.254/latest/meta-data", wantMsg: "url must use https"},
		{name: "metadata literal https", url: "https://169.254.169.254/latest/meta-data", wantMsg: "url host is not a public address"},
		{name: "unspecified", url: "https://0.0.0.0/", wantMsg: "url host is not a public address"},
		{name: "decimal IP is a name, not resolvable offline", url: "https://2130706433/", resolver: offlineResolver(), wantMsg: "url host could not be resolved"},
		{name: "http refused", url: "http://93.184.216.34/", wantMsg: "url must use https"},
		{name: "ftp refused", url: "ftp://93.184.216.34/", wantMsg: "url must use https"},
		{name: "empty", url: "", wantMsg: "url is required"},
		{name: "relative", url: "/hook", wantMsg: "url must be absolute"},
		{name: "scheme-relative", url: "//93.184.216.34/hook", wantMsg: "url must be absolute"},
		{name: "opaque", url: "https:93.184.216.34", wantMsg: "url must be absolute"},
		{name: "no host", url: "https:///hook", wantMsg: "url must have a host"},
		{name: "port only", url: "https://:443/", wantMsg: "url must have a host"},
		{name: "userinfo", url: "https://user:pw@93.184.216.34/", wantMsg: "url must not contain credentials"},
		{name: "user only", url: "https://user@93.184.216.34/", wantMsg: "url must not contain credentials"},
		{name: "port zero", url: "https://93.184.216.34:0/", wantMsg: "url has an invalid port"},
		{name: "port too big", url: "https://93.184.216.34:65536/", wantMsg: "url has an invalid port"},
		{name: "not parseable", url: "https://[::1/", wantMsg: "url is not valid"},
		{name: "control character", url: "https://93.184.216.34/\n", wantMsg: "url is not valid"},
		{name: "too long", url: "https://93.184.216.34/" + strings.Repeat("a", MaxURLLen), wantMsg: "url is too long"},
		// Local stacks.
		{name: "insecure: http loopback", url: "http://127.0.0.1:3000/hook", insecure: true},
		{name: "insecure: localhost", url: "http://localhost:3000/hook", insecure: true, resolver: offlineResolver()},
		{name: "insecure: https private", url: "https://10.0.0.1/", insecure: true},
		{name: "insecure: ftp refused", url: "ftp://127.0.0.1/", insecure: true, wantMsg: "url must use http or https"},
		{name: "insecure: userinfo still refused", url: "http://a:b@127.0.0.1/", insecure: true, wantMsg: "url must not contain credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.resolver
			if r == nil {
				r = offlineResolver()
			}
			err := CheckURL(context.Background(), tt.url, tt.insecure, r)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ue *URLError
			if !errors.As(err, &ue) || ue.Msg != tt.wantMsg {
				t.Fatalf("err = %v, want URLError %q", err, tt.wantMsg)
			}
		})
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://93.184.216.34/", "https://[2606:4700::1111]/", "https://127.0.0.1/", "https://localhost/",
		"https://[::ffff:7f00:1]/", "https://[64:ff9b::a00:1]/", "https://[2002:a00:1::]/", "https://[fe80::1%25lo]/",
		"https://0x7f.1/", "https://017700000001/", "https://127.1/", "https://[::]/", "http://8.8.8.8/",
		"https://u@8.8.8.8/", "https://8.8.8.8:99999/", "https:8.8.8.8", "//8.8.8.8", "https://%31%32%37.0.0.1/",
		"https://127.0.0.1%2f@8.8.8.8/", "https://8.8.8.8\\@127.0.0.1/", "https://8.8.8.8#@127.0.0.1/",
	} {
		f.Add(s)
	}
	resolver := offlineResolver()
	f.Fuzz(func(t *testing.T, raw string) {
		ctx := context.Background()
		_ = CheckURL(ctx, raw, true, resolver) // must not panic
		if CheckURL(ctx, raw, false, resolver) != nil {
			return
		}
		// Accepted: it must be https without userinfo, and every address the
		// host names (literally or through the resolver) must be public.
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.User != nil || u.Hostname() == "" {
			t.Fatalf("accepted %q: parse error %v or bad scheme/userinfo/host", raw, err)
		}
		host := u.Hostname()
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else {
			resolved, err := resolver.LookupNetIP(ctx, "ip", host)
			if err != nil || len(resolved) == 0 {
				t.Fatalf("accepted %q whose host %q does not resolve", raw, host)
			}
			addrs = resolved
		}
		for _, a := range addrs {
			if !IsPublic(a) || stdlibSpecial(net.IP(a.AsSlice())) {
				t.Fatalf("accepted %q: host %q is %s, not public", raw, host, a)
			}
		}
	})
}

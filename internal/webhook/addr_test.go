package webhook

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestIsPublic(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		// IPv4 public
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.216.34", true},
		{"100.63.255.255", true}, // just below CGNAT
		{"100.128.0.0", true},    // just above CGNAT
		{"172.15.255.255", true}, // just below 172.16/12
		{"172.32.0.0", true},     // just above 172.16/12
		{"198.17.255.255", true}, // just below benchmarking
		{"198.20.0.0", true},     // just above benchmarking
		{"223.255.255.255", true},
		// IPv4 not public
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"169.254.169.254", false}, // cloud metadata
		{"169.254.0.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		// IPv6 public
		{"2606:4700:4700::1111", true},
		{"2001:4860:4860::8888", true},
		{"2a00:1450:4001:80b::200e", true},
		{"2400:cb00::1", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8
		{"::ffff:8.8.8.8", true},   // IPv4-mapped public
		// IPv6 not public
		{"::", false},
		{"::1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::10.0.0.1", false}, // IPv4-compatible (deprecated)
		{"::8.8.8.8", false},  // IPv4-compatible, refused whatever it embeds
		{"64:ff9b::a00:1", false},
		{"64:ff9b::7f00:1", false},
		{"64:ff9b::a9fe:a9fe", false},
		{"64:ff9b:1::808:808", false}, // local-use NAT64 (RFC 8215)
		{"2002:a00:1::1", false},      // 6to4 of 10.0.0.1
		{"2002:7f00:1::", false},      // 6to4 of 127.0.0.1
		{"2001:db8::1", false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, // Teredo
		{"2001:2::1", false},                            // benchmarking
		{"2001:10::1", false},                           // ORCHID
		{"3fff::1", false},                              // documentation (RFC 9637)
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false}, // site-local (deprecated)
		{"ff02::1", false},
		{"ff0e::1", false},
		{"100::1", false},  // discard-only
		{"5f00::1", false}, // SRv6 SIDs
		{"4000::1", false}, // unallocated, outside 2000::/3
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := IsPublic(a); got != tt.want {
				t.Fatalf("IsPublic(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	if IsPublic(netip.Addr{}) {
		t.Fatal("zero Addr reported public")
	}
}

// refPublic4 and refPublic are written with byte comparisons, independently
// of the prefix tables, as a reference for the fuzz target.
func refPublic4(a []byte) bool {
	switch {
	case a[0] == 0, a[0] == 10, a[0] == 127, a[0] >= 224:
		return false
	case a[0] == 100 && a[1]&0xc0 == 64:
		return false
	case a[0] == 169 && a[1] == 254:
		return false
	case a[0] == 172 && a[1]&0xf0 == 16:
		return false
	case a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2):
		return false
	case a[0] == 192 && a[1] == 88 && a[2] == 99:
		return false
	case a[0] == 192 && a[1] == 168:
		return false
	case a[0] == 198 && a[1]&0xfe == 18:
		return false
	case a[0] == 198 && a[1] == 51 && a[2] == 100:
		return false
	case a[0] == 203 && a[1] == 0 && a[2] == 113:
		return false
	}
	return true
}

func refPublic(b [16]byte) bool {
	zero := make([]byte, 12)
	switch {
	case bytes.Equal(b[:10], zero[:10]) && b[10] == 0xff && b[11] == 0xff: // ::ffff:0:0/96
		return refPublic4(b[12:])
	case bytes.Equal(b[:4], []byte{0, 0x64, 0xff, 0x9b}) && bytes.Equal(b[4:12], zero[:8]): // 64:ff9b::/96
		return refPublic4(b[12:])
	case b[0] == 0x20 && b[1] == 0x02: // 2002::/16
		return refPublic4(b[2:6])
	case b[0]&0xe0 != 0x20: // outside 2000::/3
		return false
	case b[0] == 0x20 && b[1] == 0x01 && b[2]&0xfe == 0: // 2001::/23
		return false
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8: // 2001:db8::/32
		return false
	case b[0] == 0x3f && b[1] == 0xff && b[2]&0xf0 == 0: // 3fff::/20
		return false
	}
	return true
}

// stdlibSpecial is what the standard library itself knows is not public.
func stdlibSpecial(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
}

func FuzzIsPublic(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "10.0.0.1", "::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "2001:db8::1", "fe80::1", "2606:4700::1111", "3fff:fff::1", "2001:1ff::1", "2001:200::1"} {
		a := netip.MustParseAddr(s)
		if a.Is4() {
			b := a.As4()
			f.Add(b[:])
		} else {
			b := a.As16()
			f.Add(b[:])
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 16 {
			b := [16]byte(data[:16])
			a := netip.AddrFrom16(b)
			got := IsPublic(a)
			if want := refPublic(b); got != want {
				t.Fatalf("IsPublic(%s) = %v, reference says %v", a, got, want)
			}
			if got && stdlibSpecial(net.IP(b[:])) {
				t.Fatalf("IsPublic(%s) = true, but the standard library calls it special", a)
			}
			if IsPublic(a.WithZone("eth0")) != got {
				t.Fatalf("zone changed the verdict for %s", a)
			}
		}
		if len(data) >= 4 {
			v4 := [4]byte(data[:4])
			a := netip.AddrFrom4(v4)
			got := IsPublic(a)
			if want := refPublic4(v4[:]); got != want {
				t.Fatalf("IsPublic(%s) = %v, reference says %v", a, got, want)
			}
			if got && stdlibSpecial(net.IP(v4[:])) {
				t.Fatalf("IsPublic(%s) = true, but the standard library calls it special", a)
			}
			mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]})
			nat := netip.AddrFrom16([16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]})
			six := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: v4[0], 3: v4[1], 4: v4[2], 5: v4[3], 15: 1})
			for _, e := range []netip.Addr{mapped, nat, six} {
				if IsPublic(e) != got {
					t.Fatalf("IsPublic(%s) = %v, but it embeds %s (%v)", e, !got, a, got)
				}
			}
		}
	})
}

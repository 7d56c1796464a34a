// Package webhook is the HTTP client that calls validators:
// delivery with an SSRF guard in the dialer, URL checks for saved secrets, and
// Standard Webhooks signing.
package webhook

import "net/netip"

// nonPublicV4 lists IPv4 ranges that are not globally reachable (IANA
// special-purpose registry).
var nonPublicV4 = prefixes(
	"0.0.0.0/8",       // "this network", includes unspecified
	"10.0.0.0/8",      // RFC 1918
	"100.64.0.0/10",   // CGNAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, includes cloud metadata 169.254.169.254
	"172.16.0.0/12",   // RFC 1918
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // RFC 1918
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast 255.255.255.255
)

var (
	// Only 2000::/3 is allocated for global unicast; everything outside it
	// (loopback, unspecified, IPv4-compatible ::/96, ULA fc00::/7, link-local
	// fe80::/10, site-local, multicast ff00::/8, discard 100::/64, SRv6
	// 5f00::/16 ...) is refused, except NAT64 whose embedded IPv4 decides.
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	nonPublicV6     = prefixes(
		"2001::/23",     // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
		"2001:db8::/32", // documentation
		"3fff::/20",     // documentation (RFC 9637)
	)
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 prefix, IPv4 in the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4, IPv4 in bits 16..47
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IsPublic reports whether addr is a globally reachable unicast address that a
// webhook may be delivered to. IPv4-mapped, NAT64 and 6to4 addresses are
// judged by the IPv4 address they embed.
func IsPublic(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return !inAny(nonPublicV4, addr)
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return IsPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(addr):
		return IsPublic(netip.AddrFrom4([4]byte(b[2:6])))
	case !globalUnicastV6.Contains(addr):
		return false
	}
	return !inAny(nonPublicV6, addr)
}

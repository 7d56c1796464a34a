package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// offlineResolver resolves only from /etc/hosts; every DNS query fails at
// once, so tests never touch the network.
func offlineResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("dns disabled in tests")
	}}
}

// fakeDNS is a tiny in-process DNS server for the pure-Go resolver. Each
// name maps to successive A/AAAA answer sets; the last set repeats. That is
// enough to simulate DNS rebinding: a public answer first, a private one next.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr // lower-case FQDN with trailing dot
	aCalls  map[string]int
}

func newFakeDNS(answers map[string][][]netip.Addr) *fakeDNS {
	return &fakeDNS{answers: answers, aCalls: map[string]int{}}
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go d.serve(server)
		return client, nil
	}}
}

// serve answers one query. net.Pipe is not a PacketConn, so the resolver
// uses TCP framing: a two-byte length before each message.
func (d *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	q := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, q); err != nil {
		return
	}
	resp := d.answer(q)
	if resp == nil {
		return
	}
	_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
}

func (d *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// Question name: labels from offset 12 up to the zero byte.
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	end := i + 1 + 4 // zero byte, qtype, qclass
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	name := strings.ToLower(strings.Join(labels, ".")) + "."

	d.mu.Lock()
	sets, known := d.answers[name]
	var addrs []netip.Addr
	if known && len(sets) > 0 {
		k := d.aCalls[name]
		if k >= len(sets) {
			k = len(sets) - 1
		}
		addrs = sets[k]
		if qtype == 1 {
			d.aCalls[name]++
		}
	}
	d.mu.Unlock()

	var rrs [][]byte
	for _, a := range addrs {
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			rrs = append(rrs, b[:])
		case qtype == 28 && a.Is6():
			b := a.As16()
			rrs = append(rrs, b[:])
		}
	}
	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	out := append([]byte{}, q[0:2]...)
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(rrs)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, q[12:end]...)
	for _, rd := range rrs {
		out = append(out, 0xc0, 0x0c) // pointer to the question name
		out = binary.BigEndian.AppendUint16(out, qtype)
		out = binary.BigEndian.AppendUint16(out, 1) // IN
		out = append(out, 0, 0, 0, 0)               // TTL
		out = binary.BigEndian.AppendUint16(out, uint16(len(rd)))
		out = append(out, rd...)
	}
	return out
}

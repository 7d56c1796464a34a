// Package dnstest is a tiny in-process DNS server for tests that need names
// to resolve to chosen addresses, such as DNS rebinding through the SSRF
// guard: a public answer when a URL is saved, a private one when it is called.
package dnstest

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Server answers A and AAAA queries from fixed answer sets.
type Server struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	queries map[query]int
}

type query struct {
	name  string
	qtype uint16
}

// The query types answered.
const (
	typeA    = 1
	typeAAAA = 28
)

// New serves answers: each lower-case FQDN (with its trailing dot) maps to
// successive answer sets. The n-th A query for a name and the n-th AAAA
// query for it are both answered from set n, so one lookup of both families
// sees one set whatever order they arrive in; the last set repeats. A name
// not in answers is NXDOMAIN.
func New(answers map[string][][]netip.Addr) *Server {
	return &Server{answers: answers, queries: map[query]int{}}
}

// Resolver is a pure-Go resolver whose every DNS query goes to s (hosts
// listed in /etc/hosts, such as localhost, still resolve from there).
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go s.serve(server)
		return client, nil
	}}
}

// Lookups is how many A queries name (an FQDN) has had: one per lookup.
func (s *Server) Lookups(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[query{name, typeA}]
}

// serve answers one query. net.Pipe is not a PacketConn, so the resolver
// uses TCP framing: a two-byte length before each message.
func (s *Server) serve(c net.Conn) {
	defer c.Close()
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	q := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, q); err != nil {
		return
	}
	resp := s.answer(q)
	if resp == nil {
		return
	}
	_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
}

func (s *Server) answer(q []byte) []byte {
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
	key := query{strings.ToLower(strings.Join(labels, ".")) + ".", binary.BigEndian.Uint16(q[i+1:])}

	s.mu.Lock()
	sets, known := s.answers[key.name]
	var addrs []netip.Addr
	if known && len(sets) > 0 {
		addrs = sets[min(s.queries[key], len(sets)-1)]
	}
	s.queries[key]++
	s.mu.Unlock()

	var rrs [][]byte
	for _, a := range addrs {
		switch {
		case key.qtype == typeA && a.Is4():
			b := a.As4()
			rrs = append(rrs, b[:])
		case key.qtype == typeAAAA && a.Is6():
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
		out = binary.BigEndian.AppendUint16(out, key.qtype)
		out = binary.BigEndian.AppendUint16(out, 1) // IN
		out = append(out, 0, 0, 0, 0)               // TTL
		out = binary.BigEndian.AppendUint16(out, uint16(len(rd)))
		out = append(out, rd...)
	}
	return out
}

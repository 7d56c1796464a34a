package webhook

import (
	"context"
	"errors"
	"net"
)

// offlineResolver resolves only from /etc/hosts; every DNS query fails at
// once, so tests never touch the network.
func offlineResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("dns disabled in tests")
	}}
}

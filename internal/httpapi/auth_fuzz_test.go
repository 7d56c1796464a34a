package httpapi

import (
	"strings"
	"testing"
)

// FuzzBearerToken: a header yields a token only under the Bearer scheme
// (any case) and never an empty or space-padded one; a token written as
// "Bearer <token>" comes back as written.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "BEARER\tabc", "Basic abc", "Bearer", "Bearer ", " Bearer abc", "Bearerabc", "", "Bearer a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := BearerToken(header)
		if ok {
			scheme, _, _ := strings.Cut(header, " ")
			if token == "" || token != strings.TrimSpace(token) || !strings.EqualFold(scheme, "Bearer") || !strings.HasSuffix(strings.TrimSpace(header), token) {
				t.Fatalf("%q gave token %q", header, token)
			}
		} else if token != "" {
			t.Fatalf("%q refused yet gave %q", header, token)
		}
		if want := strings.TrimSpace(header); want != "" {
			if got, ok := BearerToken("Bearer " + want); !ok || got != want {
				t.Fatalf("Bearer %q read back as %q, %v", want, got, ok)
			}
		}
	})
}

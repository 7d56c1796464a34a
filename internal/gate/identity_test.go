package gate

import (
	"strings"
	"testing"
)

// TestIdentityHashIsKeyedAndPerField: the hash depends on the key (without
// it, a stolen index names nobody), tells the fields apart, ignores an
// email's case, holds no part of the value, and a search's hashes are a
// submission's.
func TestIdentityHashIsKeyedAndPerField(t *testing.T) {
	k1, k2 := IdentityKey(strings.Repeat("a", 32)), IdentityKey(strings.Repeat("b", 32))
	r := &PrivacyRequest{Identity: Identity{Email: "Jane.Doe@Example.com", PhoneNumber: "+15551230001"}, ExternalID: "+15551230001"}
	h := k1.Of(r)
	if h == k2.Of(r) || h.Email == k2.Of(r).Email {
		t.Error("two keys give the same hashes")
	}
	if h.Phone == h.External {
		t.Error("one value hashes the same as a phone number and as an external id")
	}
	if q := k1.Query("jane.doe@EXAMPLE.COM"); q.Email != h.Email {
		t.Errorf("a search in another case: %q, want %q", q.Email, h.Email)
	}
	if q := k1.Query("+15551230001"); q.Phone != h.Phone || q.External != h.External {
		t.Errorf("a search's hashes %+v differ from the submission's %+v", q, h)
	}
	for _, v := range []string{h.Email, h.Phone, h.External} {
		if len(v) != 22 || strings.Contains(strings.ToLower(v), "jane") || strings.Contains(v, "5551230001") {
			t.Errorf("hash %q", v)
		}
	}
	if none := k1.Of(&PrivacyRequest{Identity: Identity{Email: "a@example.com"}}); none.Phone != "" || none.External != "" {
		t.Errorf("absent fields hashed: %+v", none)
	}
}

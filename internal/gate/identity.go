package gate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// MaxIdentityQueryLen bounds ?identity= (an email's longest form, with margin).
const MaxIdentityQueryLen = 320

// IdentityKey is the key of the identity hash. The search index holds
// hashes made with it, never an identity: without the key, a stolen
// index names nobody.
type IdentityKey []byte

// IdentityKeys gives the identity hash key; a function reads it in the
// background from its start, and the first use waits for it.
type IdentityKeys interface {
	IdentityKey(ctx context.Context) (IdentityKey, error)
}

// IdentityKey is a key already at hand.
func (k IdentityKey) IdentityKey(context.Context) (IdentityKey, error) { return k, nil }

// IdentityHashes are the index values of one identity per field: the same
// value hashes differently as an email, a phone number and an external id
// (a field name is hashed in), so each field has its own index.
type IdentityHashes struct {
	Email, Phone, External string
}

// hash is HMAC-SHA256 of field and value, truncated to 128 bits (ample to
// tell apart the identities of any table; a match is checked against the
// request anyway), base64url: 22 characters.
func (k IdentityKey) hash(field, value string) string {
	if value == "" {
		return ""
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Of is the hashes of request r's identity; emails are compared without case.
func (k IdentityKey) Of(r *PrivacyRequest) IdentityHashes {
	return IdentityHashes{Email: k.hash("email", strings.ToLower(r.Identity.Email)),
		Phone: k.hash("phone", r.Identity.PhoneNumber), External: k.hash("external_id", r.ExternalID)}
}

// Query is the hashes to look a searched value up by, in every field.
func (k IdentityKey) Query(value string) IdentityHashes {
	return IdentityHashes{Email: k.hash("email", strings.ToLower(value)), Phone: k.hash("phone", value), External: k.hash("external_id", value)}
}

// matchesIdentity reports whether r's email (without case), phone number
// or external id is value.
func matchesIdentity(r *PrivacyRequest, value string) bool {
	return (r.Identity.Email != "" && strings.EqualFold(r.Identity.Email, value)) ||
		(r.Identity.PhoneNumber != "" && r.Identity.PhoneNumber == value) ||
		(r.ExternalID != "" && r.ExternalID == value)
}

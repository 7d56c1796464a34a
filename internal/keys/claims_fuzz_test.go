package keys

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzReplyClaims covers what FuzzVerify cannot reach, since its mutations
// never pass the GCM tag: the decrypted payload's parser and the mint/verify
// round trip. Any payload is refused or yields complete claims that re-encode
// to themselves; any webhook key and request id (UTF-8, as they come from
// JSON) minted into a token verify back unchanged.
func FuzzReplyClaims(f *testing.F) {
	for _, s := range []string{
		`{"webhook_id":"w","privacy_request_id":"p","scopes":["privacy-request:review"],"iat":1,"exp":2}`,
		`{"webhook_id":"w","privacy_request_id":"p","scopes":["privacy-request:review"],"iat":2,"exp":2}`,
		`{"webhook_id":"","privacy_request_id":"p","scopes":[],"iat":1,"exp":2}`,
		`{"webhook_id":"w","privacy_request_id":"p","scopes":null,"iat":1,"exp":2,"x":0}`,
		`{"webhook_id":"w","privacy_request_id":"p","scopes":["privacy-request:review"],"iat":1.5,"exp":1e3}`,
		`{"webhook_id":"w"} {}`, `null`, `[]`, ``, `{"iat":-9223372036854775808,"exp":9223372036854775807}`,
	} {
		f.Add([]byte(s), "wh_1", "pri_1")
	}
	f.Add([]byte(`{}`), "wh_é\u2028", "pri_\"<>&")
	f.Add([]byte(`{}`), "", "pri_1")
	_, after, _, _ := keySets(f)
	tokens := NewTokens(after, ttl, fixed(t0))
	f.Fuzz(func(t *testing.T, payload []byte, webhookKey, requestID string) {
		if c, err := parseClaims(payload); err == nil {
			if c.WebhookKey == "" || c.PrivacyRequestID == "" || !slices.Contains(c.Scopes, ReviewScope) || c.ExpiresAt <= c.IssuedAt {
				t.Fatalf("payload %q accepted as incomplete claims %+v", payload, c)
			}
			again, err := json.Marshal(c) // as Mint encodes them
			if err != nil {
				t.Fatal(err)
			}
			if c2, err := parseClaims(again); err != nil || !reflect.DeepEqual(c2, c) {
				t.Fatalf("claims %+v re-encoded as %s parse to %+v, %v", c, again, c2, err)
			}
		}

		token, err := tokens.Mint(webhookKey, requestID)
		if webhookKey == "" || requestID == "" {
			if err == nil {
				t.Fatalf("minted a token for webhook %q and request %q", webhookKey, requestID)
			}
			return
		}
		if err != nil {
			t.Fatalf("mint: %v", err)
		}
		c, err := tokens.Verify(token)
		if len(token) > MaxTokenLen {
			// Stored keys and ids are short; only fuzzed ones outgrow the 4 KiB limit.
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("a %d-byte token: %v, want ErrInvalidToken", len(token), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("a minted token does not verify: %v", err)
		}
		if utf8.ValidString(webhookKey) && utf8.ValidString(requestID) && (c.WebhookKey != webhookKey || c.PrivacyRequestID != requestID) {
			t.Fatalf("minted for %q/%q, verified as %q/%q", webhookKey, requestID, c.WebhookKey, c.PrivacyRequestID)
		}
	})
}

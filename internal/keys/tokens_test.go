package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const ttl = 60 * time.Hour

func fixed(at time.Time) func() time.Time { return func() time.Time { return at } }

func mustKeySet(t testing.TB, raw string) KeySet {
	t.Helper()
	ks, err := ParseKeySet(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// Key sets used across tests: k0 (secret A) is rotated out in favour of k1
// (secret B).
func keySets(t testing.TB) (before, after, afterNoPrev, k1WrongSecret KeySet) {
	before = mustKeySet(t, `{"current_kid":"k0","current_secret":"`+secretA+`"}`)
	after = mustKeySet(t, `{"current_kid":"k1","current_secret":"`+secretB+`","previous_kid":"k0","previous_secret":"`+secretA+`"}`)
	afterNoPrev = mustKeySet(t, `{"current_kid":"k1","current_secret":"`+secretB+`"}`)
	k1WrongSecret = mustKeySet(t, `{"current_kid":"k1","current_secret":"`+strings.Repeat("c", 40)+`"}`)
	return
}

func mint(t testing.TB, ks KeySet, at time.Time, webhook, pri string) string {
	t.Helper()
	tok, err := NewTokens(ks, ttl, fixed(at)).Mint(webhook, pri)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// craft encrypts an arbitrary payload, bypassing Mint, to build tokens Mint
// would never produce.
func craft(t testing.TB, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key any, kid string, payload []byte) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func craftDir(t testing.TB, k Key, payload string) string {
	t.Helper()
	return craft(t, jose.DIRECT, jose.A256GCM, k.secret[:], k.ID, []byte(payload))
}

// tamper changes one character in the middle of part i (0-based) of a compact
// token, so the decoded bytes change whatever the base64 padding bits.
func tamper(tok string, i int) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[i])
	if len(p) == 0 {
		parts[i] = "AAAA" // the empty encrypted key of alg dir
	} else {
		j := len(p) / 2
		if p[j] == 'A' {
			p[j] = 'B'
		} else {
			p[j] = 'A'
		}
		parts[i] = string(p)
	}
	return strings.Join(parts, ".")
}

func TestMintHeaderAndClaims(t *testing.T) {
	before, _, _, _ := keySets(t)
	tok := mint(t, before, t0, "wh_1", "pri_1")
	obj, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Header.KeyID != "k0" || obj.Header.Algorithm != "dir" {
		t.Fatalf("header = %+v", obj.Header)
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "dir" || h["enc"] != "A256GCM" || h["kid"] != "k0" {
		t.Fatalf("protected header = %s", header)
	}
	plain, err := obj.Decrypt(before.Current.secret[:])
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(plain, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"webhook_id": "wh_1", "privacy_request_id": "pri_1", "scopes": []any{"privacy-request:review"},
		"iat": float64(t0.Unix()), "exp": float64(t0.Add(ttl).Unix()),
	}
	if len(raw) != len(want) {
		t.Fatalf("payload = %s", plain)
	}
	for k, v := range want {
		got, _ := json.Marshal(raw[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("payload[%s] = %s, want %s", k, got, exp)
		}
	}
	if tok2 := mint(t, before, t0, "wh_1", "pri_1"); tok2 == tok {
		t.Fatal("two tokens share an IV")
	}
}

func TestMintErrors(t *testing.T) {
	before, _, _, _ := keySets(t)
	tests := []struct {
		name         string
		tokens       *Tokens
		webhook, pri string
	}{
		{"empty webhook key", NewTokens(before, ttl, fixed(t0)), "", "pri_1"},
		{"empty request id", NewTokens(before, ttl, fixed(t0)), "wh", ""},
		{"ttl under a second", NewTokens(before, 999*time.Millisecond, fixed(t0)), "wh", "pri_1"},
		{"zero key set", NewTokens(KeySet{}, ttl, fixed(t0)), "wh", "pri_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := tt.tokens.Mint(tt.webhook, tt.pri); err == nil {
				t.Fatalf("Mint = %q, want error", tok)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	before, after, afterNoPrev, wrongSecret := keySets(t)
	good := mint(t, after, t0, "wh_1", "pri_1")
	old := mint(t, before, t0, "wh_0", "pri_0")
	k1 := after.Current

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	validPayload := func(mut func(m map[string]any)) string {
		m := map[string]any{"webhook_id": "wh_1", "privacy_request_id": "pri_1", "scopes": []string{ReviewScope}, "iat": t0.Unix(), "exp": t0.Add(ttl).Unix()}
		if mut != nil {
			mut(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	jsonSerialized := func() string {
		obj, err := jose.ParseEncryptedCompact(good, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
		if err != nil {
			t.Fatal(err)
		}
		return obj.FullSerialize()
	}
	// A tag whose last base64 character differs only in ignored padding bits.
	nonCanonical := func() string {
		parts := strings.Split(good, ".")
		tag := []byte(parts[4]) // 16 bytes -> 22 chars, last char carries 4 unused bits
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		idx := strings.IndexByte(alphabet, tag[len(tag)-1])
		tag[len(tag)-1] = alphabet[idx^1]
		parts[4] = string(tag)
		return strings.Join(parts, ".")
	}

	tests := []struct {
		name     string
		ks       KeySet
		now      time.Time
		token    string
		wantErr  error
		wantPRI  string
		wantHook string
	}{
		{name: "round trip", ks: after, now: t0, token: good, wantPRI: "pri_1", wantHook: "wh_1"},
		{name: "previous key still verifies after rotation", ks: after, now: t0, token: old, wantPRI: "pri_0", wantHook: "wh_0"},
		{name: "key rotated out entirely", ks: afterNoPrev, now: t0, token: old, wantErr: ErrInvalidToken},
		{name: "unknown kid", ks: before, now: t0, token: good, wantErr: ErrInvalidToken},
		{name: "empty kid", ks: after, now: t0, token: craft(t, jose.DIRECT, jose.A256GCM, k1.secret[:], "", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "wrong key same kid", ks: wrongSecret, now: t0, token: good, wantErr: ErrInvalidToken},
		{name: "tampered protected header", ks: after, now: t0, token: tamper(good, 0), wantErr: ErrInvalidToken},
		{name: "tampered encrypted key", ks: after, now: t0, token: tamper(good, 1), wantErr: ErrInvalidToken},
		{name: "tampered iv", ks: after, now: t0, token: tamper(good, 2), wantErr: ErrInvalidToken},
		{name: "tampered ciphertext", ks: after, now: t0, token: tamper(good, 3), wantErr: ErrInvalidToken},
		{name: "tampered tag", ks: after, now: t0, token: tamper(good, 4), wantErr: ErrInvalidToken},
		{name: "non-canonical base64 in tag", ks: after, now: t0, token: nonCanonical(), wantErr: ErrInvalidToken},
		{name: "whitespace inserted", ks: after, now: t0, token: good[:10] + " " + good[10:], wantErr: ErrInvalidToken},
		{name: "JSON serialization", ks: after, now: t0, token: jsonSerialized(), wantErr: ErrInvalidToken},
		{name: "one second before expiry", ks: after, now: t0.Add(ttl - time.Second), token: good, wantPRI: "pri_1", wantHook: "wh_1"},
		{name: "expired at exp", ks: after, now: t0.Add(ttl), token: good, wantErr: ErrTokenExpired},
		{name: "expired long ago", ks: after, now: t0.Add(365 * 24 * time.Hour), token: good, wantErr: ErrTokenExpired},
		{name: "expired and tampered", ks: after, now: t0.Add(2 * ttl), token: tamper(good, 3), wantErr: ErrInvalidToken},
		{name: "expired and unknown kid", ks: before, now: t0.Add(2 * ttl), token: good, wantErr: ErrInvalidToken},
		{name: "empty", ks: after, now: t0, token: "", wantErr: ErrInvalidToken},
		{name: "four parts", ks: after, now: t0, token: good[:strings.LastIndexByte(good, '.')], wantErr: ErrInvalidToken},
		{name: "oversize", ks: after, now: t0, token: good + strings.Repeat("A", MaxTokenLen), wantErr: ErrInvalidToken},
		{name: "oversize garbage", ks: after, now: t0, token: strings.Repeat(".", MaxTokenLen+1), wantErr: ErrInvalidToken},
		{name: "alg RSA-OAEP", ks: after, now: t0, token: craft(t, jose.RSA_OAEP, jose.A256GCM, &rsaKey.PublicKey, "k1", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "alg A256GCMKW", ks: after, now: t0, token: craft(t, jose.A256GCMKW, jose.A256GCM, k1.secret[:], "k1", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "alg A256KW", ks: after, now: t0, token: craft(t, jose.A256KW, jose.A256GCM, k1.secret[:], "k1", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "enc A128GCM", ks: after, now: t0, token: craft(t, jose.DIRECT, jose.A128GCM, k1.secret[:16], "k1", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "enc A128CBC-HS256 with our key", ks: after, now: t0, token: craft(t, jose.DIRECT, jose.A128CBC_HS256, k1.secret[:], "k1", []byte(validPayload(nil))), wantErr: ErrInvalidToken},
		{name: "crafted valid payload", ks: after, now: t0, token: craftDir(t, k1, validPayload(nil)), wantPRI: "pri_1", wantHook: "wh_1"},
		{name: "extra scope kept", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["scopes"] = []string{"other", ReviewScope} })), wantPRI: "pri_1", wantHook: "wh_1"},
		{name: "missing webhook_id", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "webhook_id") })), wantErr: ErrInvalidToken},
		{name: "empty webhook_id", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["webhook_id"] = "" })), wantErr: ErrInvalidToken},
		{name: "missing privacy_request_id", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "privacy_request_id") })), wantErr: ErrInvalidToken},
		{name: "empty privacy_request_id", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["privacy_request_id"] = "" })), wantErr: ErrInvalidToken},
		{name: "missing scopes", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "scopes") })), wantErr: ErrInvalidToken},
		{name: "null scopes", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["scopes"] = nil })), wantErr: ErrInvalidToken},
		{name: "empty scopes", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["scopes"] = []string{} })), wantErr: ErrInvalidToken},
		{name: "wrong scope", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["scopes"] = []string{"privacy-request:read"} })), wantErr: ErrInvalidToken},
		{name: "scope as string", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["scopes"] = ReviewScope })), wantErr: ErrInvalidToken},
		{name: "missing iat", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "iat") })), wantErr: ErrInvalidToken},
		{name: "missing exp", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "exp") })), wantErr: ErrInvalidToken},
		{name: "exp equals iat", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["exp"] = m["iat"] })), wantErr: ErrInvalidToken},
		{name: "exp as string", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["exp"] = "9999999999" })), wantErr: ErrInvalidToken},
		{name: "fractional exp", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["exp"] = 1.5e9 + 0.5 })), wantErr: ErrInvalidToken},
		{name: "unknown field", ks: after, now: t0, token: craftDir(t, k1, validPayload(func(m map[string]any) { m["admin"] = true })), wantErr: ErrInvalidToken},
		{name: "payload is an array", ks: after, now: t0, token: craftDir(t, k1, `[]`), wantErr: ErrInvalidToken},
		{name: "payload is null", ks: after, now: t0, token: craftDir(t, k1, `null`), wantErr: ErrInvalidToken},
		{name: "payload not JSON", ks: after, now: t0, token: craftDir(t, k1, `pri_1`), wantErr: ErrInvalidToken},
		{name: "payload with trailing data", ks: after, now: t0, token: craftDir(t, k1, validPayload(nil)+`{}`), wantErr: ErrInvalidToken},
		{name: "bad shape even when expired", ks: after, now: t0.Add(2 * ttl), token: craftDir(t, k1, validPayload(func(m map[string]any) { delete(m, "scopes") })), wantErr: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewTokens(tt.ks, ttl, fixed(tt.now)).Verify(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if errors.Is(err, ErrInvalidToken) && errors.Is(err, ErrTokenExpired) {
					t.Fatalf("err %v is both invalid and expired", err)
				}
				if c.PrivacyRequestID != "" || c.WebhookKey != "" {
					t.Fatalf("claims returned with error: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.PrivacyRequestID != tt.wantPRI || c.WebhookKey != tt.wantHook || !slices.Contains(c.Scopes, ReviewScope) || c.ExpiresAt <= c.IssuedAt {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestVerifyErrorDoesNotEchoToken(t *testing.T) {
	_, after, _, _ := keySets(t)
	good := mint(t, after, t0, "wh_1", "pri_1")
	for _, tok := range []string{tamper(good, 3), good + "x", strings.Repeat("Z", MaxTokenLen+1)} {
		_, err := NewTokens(after, ttl, fixed(t0)).Verify(tok)
		if err == nil {
			t.Fatal("want error")
		}
		if strings.Contains(err.Error(), tok[:20]) {
			t.Fatalf("error echoes the token: %v", err)
		}
	}
}

// pinnedTokens were minted once by this package with the test key sets (k1 =
// secret B, k0 = secret A). They are constants because the fuzz engine runs
// the target in worker processes, where freshly minted tokens (random IVs)
// would differ; they also pin the wire format.
var pinnedTokens = []struct{ token, webhook, pri string }{
	{"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ..rWtVY7uVpjViZZt3.wexcziDkqsIgQ3vr3tAiPIj7ixeMqXvi3mPtyTvxhyh4mqXk3KfFOU_SMgOTva3Ph-2Uz9YaUc8LC6m2QYGr8lTd28eFVIWYFaLihPmeqsl4X8IgFRj54sX9sWxao6U3fLDQ7ZRSh2-rtiQHoDlhaq4TeTgnDYMh.sndvelTaa7dAMg3WxT1ujQ", "wh_1", "pri_1"},
	// Minted 2*ttl before t0: expired at t0.
	{"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ..doO3rumylvlZO09-.BYltuPFZOrV_sRDVTDjz6ohu6Ri-PB07l6Hh_KaYYaRFNLDc2NeySfsAuWaT6_LO23X72yQn5auNTVGtTk_wbM1Gav-jNLzTKHRLX_Z9Xv6wrLkOWQd7xHEO7e7SQCp9lcx43E_yVlPhL-tuj1Sz8XcaXrAw3BTAbZe-0LM9.gsECkNXtHUqRYLBW6E3MAg", "wh_1", "pri_expired"},
	// Minted with k0, now the previous key.
	{"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazAifQ..i-j-Uzop6HZ6wMi-.ulonuhS4lntt3B-KsZmhaVqq5mai2We3HH4PpuZubhE8QmdYB_YwpEqBGsrh0fV3YVsVa_39EUWnfGFbd7KnqPp9BG37a5KOrzMuB7Ue7tN3riPjAiq_nT-6G2Fmf_1PqJ9wZ0qh4Ud8_4C5C0MKoUp5E1p3Nn_K.ZzXmfQOHs5dzdlPnb1XjgA", "wh_0", "pri_0"},
}

func TestPinnedTokens(t *testing.T) {
	_, after, _, _ := keySets(t)
	tokens := NewTokens(after, ttl, fixed(t0))
	for _, p := range pinnedTokens {
		c, err := tokens.Verify(p.token)
		if p.pri == "pri_expired" {
			if !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("%s: err = %v, want ErrTokenExpired", p.pri, err)
			}
			continue
		}
		if err != nil || c.WebhookKey != p.webhook || c.PrivacyRequestID != p.pri {
			t.Fatalf("%s: claims %+v, err %v", p.pri, c, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	_, after, _, _ := keySets(f)
	k1 := after.Current
	minted := map[string]bool{}
	for _, p := range pinnedTokens {
		minted[p.token] = true
		f.Add(p.token)
		for i := range 5 {
			f.Add(tamper(p.token, i))
		}
	}
	for _, s := range []string{
		"", ".", "....", "a.b.c.d.e", "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0....",
		`{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"","ciphertext":"","tag":""}`,
		craftDir(f, k1, `{}`),
		craftDir(f, k1, `{"webhook_id":"w","privacy_request_id":"p","scopes":["privacy-request:review"],"iat":1,"exp":1}`),
		craft(f, jose.DIRECT, jose.A128GCM, k1.secret[:16], "k1", []byte(`{}`)),
	} {
		f.Add(s)
	}

	tokens := NewTokens(after, ttl, fixed(t0))
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.Verify(token)
		switch {
		case err == nil:
			if !minted[token] {
				t.Fatalf("accepted a token we did not mint: %q -> %+v", token, c)
			}
		case errors.Is(err, ErrTokenExpired):
			// Expiry is only reported after a successful decryption.
			if !minted[token] {
				t.Fatalf("reported expiry for a token we did not mint: %q", token)
			}
		case !errors.Is(err, ErrInvalidToken):
			t.Fatalf("error %v is neither ErrInvalidToken nor ErrTokenExpired", err)
		}
	})
}

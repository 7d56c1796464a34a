package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// The vector published by the Standard Webhooks specification; the expected
// signature was also recomputed outside Go (Python hmac) before being pinned.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignVector(t *testing.T) {
	got, err := Sign(vecSecret, vecID, time.Unix(vecTS, 0), []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vecSig {
		t.Fatalf("Sign = %q, want %q", got, vecSig)
	}
	// And independently of Sign's helpers, with a generated secret.
	secret, err := NewSigningSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) != 32 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q: want whsec_ + base64 of 32 bytes", secret)
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte("msg_1.1700000000.{}"))
	want := "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
	if got, _ := Sign(secret, "msg_1", time.Unix(1700000000, 999), []byte("{}")); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if other, _ := NewSigningSecret(); other == secret {
		t.Fatal("two secrets are equal")
	}
}

func TestSignBadSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!", "whsec_%%%%"} {
		if _, err := Sign(s, "m", time.Unix(1, 0), nil); err == nil {
			t.Errorf("Sign accepted secret %q", s)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(vecTS, 0)
	other, _ := NewSigningSecret()
	otherSig, _ := Sign(other, vecID, now, []byte(vecBody))
	tol := 5 * time.Minute
	tests := []struct {
		name    string
		secrets []string
		id, ts  string
		sig     string
		body    string
		now     time.Time
		wantErr error // nil: success; errAny: any error
	}{
		{name: "valid", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now},
		{name: "second of several signatures", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: otherSig + " " + vecSig, body: vecBody, now: now},
		{name: "rotated secrets", secrets: []string{other, vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now},
		{name: "unknown versions ignored", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: "v1a,abc v2,zzz " + vecSig, body: vecBody, now: now},
		{name: "at the tolerance edge, past", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now.Add(tol)},
		{name: "at the tolerance edge, future", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now.Add(-tol)},
		{name: "too old", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now.Add(tol + time.Second), wantErr: ErrSignatureTimestamp},
		{name: "too far in the future", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now.Add(-tol - time.Second), wantErr: ErrSignatureTimestamp},
		{name: "timestamp not a number", secrets: []string{vecSecret}, id: vecID, ts: "now", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureTimestamp},
		{name: "timestamp with sign", secrets: []string{vecSecret}, id: vecID, ts: "+1614265330", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureTimestamp},
		{name: "timestamp empty", secrets: []string{vecSecret}, id: vecID, ts: "", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureTimestamp},
		{name: "timestamp huge", secrets: []string{vecSecret}, id: vecID, ts: "99999999999999999999", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureTimestamp},
		{name: "body changed", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig, body: `{"test": 2432232315}`, now: now, wantErr: ErrSignatureMismatch},
		{name: "id changed", secrets: []string{vecSecret}, id: vecID + "x", ts: "1614265330", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "wrong secret", secrets: []string{other}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "missing version", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: strings.TrimPrefix(vecSig, "v1,"), body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "wrong version", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: "v2," + strings.TrimPrefix(vecSig, "v1,"), body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "truncated signature", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: vecSig[:20], body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "empty header", secrets: []string{vecSecret}, id: vecID, ts: "1614265330", sig: "", body: vecBody, now: now, wantErr: ErrSignatureMismatch},
		{name: "no secrets", secrets: nil, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now, wantErr: errAny},
		{name: "bad secret", secrets: []string{"whsec_!!"}, id: vecID, ts: "1614265330", sig: vecSig, body: vecBody, now: now, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secrets, tt.id, tt.ts, tt.sig, []byte(tt.body), tt.now, tol)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

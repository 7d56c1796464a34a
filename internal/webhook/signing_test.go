package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
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

// The gate signs here and customers verify with the public validator
// package, written apart: every signature Sign makes, under every secret
// NewSigningSecret makes, must verify there, and only for the signed
// message, so the two sides cannot drift.
func TestSignVerifiesWithTheValidatorSDK(t *testing.T) {
	old, _ := NewSigningSecret()
	current, _ := NewSigningSecret()
	now := time.Now()
	v, err := validator.NewVerifier(current, old)
	if err != nil {
		t.Fatalf("the SDK refuses a secret of NewSigningSecret: %v", err)
	}
	v.Now = func() time.Time { return now }
	body := []byte(`{"privacy_request_id":"pri_1","identity":{"email":"a@example.com"}}`)
	header := func(secret string) http.Header {
		sig, _ := Sign(secret, "pri_1:crm", now, body)
		return http.Header{
			"Webhook-Id": {"pri_1:crm"}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {sig},
			"Reply-To-Base-Url": {"https://gate.example/api/v1"}, "Reply-To-Token": {"tok"},
			"Reply-To-Eligible": {"/privacy-request/pri_1/pre-approve/eligible"}, "Reply-To-Not-Eligible": {"/privacy-request/pri_1/pre-approve/not-eligible"},
		}
	}
	for _, secret := range []string{current, old} {
		if _, err := v.Verify(header(secret), body); err != nil {
			t.Fatalf("signed by Sign, refused by the SDK: %v", err)
		}
	}
	stranger, _ := NewSigningSecret()
	if _, err := v.Verify(header(stranger), body); !errors.Is(err, validator.ErrBadSignature) {
		t.Fatalf("another secret: err = %v", err)
	}
	if _, err := v.Verify(header(current), append(body[:len(body)-1:len(body)-1], ' ', '}')); !errors.Is(err, validator.ErrBadSignature) {
		t.Fatalf("changed body: err = %v", err)
	}
}

// The validator SDKs' shared test vectors pin signatures: Sign must make
// each of them, the gate calls' one entry per secret in order.
func TestSignMatchesTheSDKVectors(t *testing.T) {
	raw, err := os.ReadFile("../../validator/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Secrets    map[string]string `json:"secrets"`
		Signatures []struct {
			Secret    string `json:"secret"`
			WebhookID string `json:"webhook_id"`
			Timestamp string `json:"timestamp"`
			Body      string `json:"body"`
			Signature string `json:"signature"`
		} `json:"signatures"`
		GateCalls []struct {
			SentAt  int64             `json:"sent_at"`
			Body    string            `json:"body"`
			Headers map[string]string `json:"headers"`
			Signed  []string          `json:"signed_with"`
		} `json:"gate_calls"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Signatures) == 0 || len(v.GateCalls) == 0 {
		t.Fatal("no signatures in the vectors")
	}
	for _, s := range v.Signatures {
		ts, _ := strconv.ParseInt(s.Timestamp, 10, 64)
		if got, err := Sign(s.Secret, s.WebhookID, time.Unix(ts, 0), []byte(s.Body)); err != nil || got != s.Signature {
			t.Errorf("Sign = %q, %v; want %q", got, err, s.Signature)
		}
	}
	for _, gc := range v.GateCalls {
		var sigs []string
		for _, name := range gc.Signed {
			sig, err := Sign(v.Secrets[name], gc.Headers["webhook-id"], time.Unix(gc.SentAt, 0), []byte(gc.Body))
			if err != nil {
				t.Fatal(err)
			}
			sigs = append(sigs, sig)
		}
		if got := strings.Join(sigs, " "); got != gc.Headers["webhook-signature"] {
			t.Errorf("%s: signature %q, want %q", gc.Headers["webhook-id"], got, gc.Headers["webhook-signature"])
		}
	}
}

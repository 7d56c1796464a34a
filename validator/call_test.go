package validator_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
)

// The vector published by the Standard Webhooks specification.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = "1614265330"
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// otherSecret is another valid secret (base64 of 32 bytes).
	otherSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

var vecNow = time.Unix(1614265330, 0)

func TestVerifySignatureVector(t *testing.T) {
	body := []byte(`{"test": 2432232314}`)
	if got := sign(vecSecret, vecID, vecTS, body); got != vecSig {
		t.Fatalf("the test's signer gives %q, want the published %q", got, vecSig)
	}
	v := verifierAt(t, vecNow, vecSecret)
	_, err := v.Verify(http.Header{"Webhook-Id": {vecID}, "Webhook-Timestamp": {vecTS}, "Webhook-Signature": {vecSig}}, body)
	// The signature is good; what fails is the body, which is not a call.
	if !errors.Is(err, validator.ErrMalformedBody) {
		t.Fatalf("err = %v, want a malformed body after a good signature", err)
	}
}

func verifierAt(t *testing.T, now time.Time, secrets ...string) *validator.Verifier {
	t.Helper()
	v, err := validator.NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	return v
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	good := gateCall("https://gate.example/api/v1", "https://validator.example/hook", vecSecret, "pri_1", "ada@example.com", now)
	body, _ := io.ReadAll(good.Body)
	sig := good.Header.Get("webhook-signature")
	ts := good.Header.Get("webhook-timestamp")
	signedBy := func(secret string) string { return sign(secret, "pri_1:crm", ts, body) }

	tests := []struct {
		name    string
		secrets []string
		edit    func(h http.Header) // changes to the good call's headers
		body    string              // replaces the body when set (the signature then covers it)
		tamper  string              // replaces the body after signing
		now     time.Time
		want    error
	}{
		{name: "good", secrets: []string{vecSecret}},
		{name: "tampered body", secrets: []string{vecSecret}, tamper: strings.Replace(string(body), "ada@", "eve@", 1), want: validator.ErrBadSignature},
		{name: "wrong secret", secrets: []string{otherSecret}, want: validator.ErrBadSignature},
		{name: "rotated: old and new secret held, signed with the old", secrets: []string{otherSecret, vecSecret}},
		{name: "rotated: two signatures, the second matches", secrets: []string{vecSecret},
			edit: func(h http.Header) { h.Set("webhook-signature", signedBy(otherSecret)+" "+sig) }},
		{name: "rotated: two signatures, the first matches", secrets: []string{otherSecret},
			edit: func(h http.Header) { h.Set("webhook-signature", signedBy(otherSecret)+" "+sig) }},
		{name: "other versions skipped", secrets: []string{vecSecret},
			edit: func(h http.Header) { h.Set("webhook-signature", "v1a,"+sig[3:]+" v2,xyz "+sig) }},
		{name: "signature of another id", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-id", "pri_1:other") }, want: validator.ErrBadSignature},
		{name: "at the tolerance, past", secrets: []string{vecSecret}, now: now.Add(5 * time.Minute)},
		{name: "at the tolerance, future", secrets: []string{vecSecret}, now: now.Add(-5 * time.Minute)},
		{name: "stale", secrets: []string{vecSecret}, now: now.Add(5*time.Minute + time.Second), want: validator.ErrStaleTimestamp},
		{name: "future", secrets: []string{vecSecret}, now: now.Add(-5*time.Minute - time.Second), want: validator.ErrStaleTimestamp},
		{name: "no signature", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("webhook-signature") }, want: validator.ErrBadSignature},
		{name: "signature without version", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-signature", sig[3:]) }, want: validator.ErrBadSignature},
		{name: "signature not base64", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-signature", "v1,!!!") }, want: validator.ErrBadSignature},
		{name: "truncated signature", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-signature", sig[:20]) }, want: validator.ErrBadSignature},
		{name: "no webhook-id", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("webhook-id") }, want: validator.ErrMalformedHeader},
		{name: "no timestamp", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("webhook-timestamp") }, want: validator.ErrMalformedHeader},
		{name: "timestamp not a number", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-timestamp", "now") }, want: validator.ErrMalformedHeader},
		{name: "timestamp with a sign", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-timestamp", "+"+ts) }, want: validator.ErrMalformedHeader},
		{name: "timestamp huge", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-timestamp", "99999999999999999999") }, want: validator.ErrMalformedHeader},
		{name: "timestamp in milliseconds", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("webhook-timestamp", ts+"000") }, want: validator.ErrStaleTimestamp},
		{name: "no reply-to-token", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("reply-to-token") }, want: validator.ErrMalformedHeader},
		{name: "no reply-to-base-url", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("reply-to-base-url") }, want: validator.ErrMalformedHeader},
		{name: "reply-to-base-url not http", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("reply-to-base-url", "ftp://gate.example") }, want: validator.ErrMalformedHeader},
		{name: "reply path to another host", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Set("reply-to-eligible", "//evil.example/x") }, want: validator.ErrMalformedHeader},
		{name: "no reply-to-not-eligible", secrets: []string{vecSecret}, edit: func(h http.Header) { h.Del("reply-to-not-eligible") }, want: validator.ErrMalformedHeader},
		{name: "body not JSON", secrets: []string{vecSecret}, body: "privacy_request_id=pri_1", want: validator.ErrMalformedBody},
		{name: "body without privacy_request_id", secrets: []string{vecSecret}, body: `{"identity":{}}`, want: validator.ErrMalformedBody},
		{name: "body with a bad time", secrets: []string{vecSecret}, body: `{"privacy_request_id":"pri_1","timestamp":"yesterday"}`, want: validator.ErrMalformedBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good.Header.Clone()
			b := body
			if tt.body != "" {
				b = []byte(tt.body)
				h.Set("webhook-signature", sign(vecSecret, "pri_1:crm", ts, b))
			}
			if tt.edit != nil {
				tt.edit(h)
			}
			if tt.tamper != "" {
				b = []byte(tt.tamper)
			}
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			c, err := verifierAt(t, at, tt.secrets...).Verify(h, b)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.PrivacyRequestID != "pri_1" || c.WebhookID != "pri_1:crm" {
					t.Fatalf("call %+v", c)
				}
				return
			}
			var ce *validator.CallError
			if !errors.Is(err, tt.want) || !errors.As(err, &ce) || ce.Detail == "" {
				t.Fatalf("err = %v, want a *CallError of kind %v", err, tt.want)
			}
			for _, secretish := range []string{vecSecret, sig, "reply-token"} {
				if strings.Contains(err.Error(), secretish) {
					t.Fatalf("error %q holds a secret", err)
				}
			}
		})
	}
}

// Every field of the call's body and the reply-to headers reach the Call.
func TestVerifyParsesTheCall(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := gateCall("https://gate.example/api/v1", "https://validator.example/hook", vecSecret, "pri_7", "ada@example.com", now)
	c, err := verifierAt(t, now, vecSecret).ParseRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	pr := c.PrivacyRequest
	if c.PrivacyRequestID != "pri_7" || c.PrivacyRequestStatus != "awaiting_pre_approval" || c.Direction != "two_way" ||
		c.CallbackType != "pre_approval" || c.Identity.Email != "ada@example.com" || c.Identity.PhoneNumber != "" || c.PolicyAction != "access" ||
		pr.ID != "pri_7" || pr.Status != "awaiting_pre_approval" || pr.ExternalID != nil || pr.IdentityVerifiedAt != nil ||
		!pr.RequestedAt.Equal(time.Date(2026, 11, 26, 11, 59, 59, 1000, time.UTC)) || pr.Policy.Key != "default_access_policy" ||
		pr.Policy.Name != "Default Access Policy" || len(pr.Policy.Rules) != 1 || pr.Policy.Rules[0].ActionType != "access" ||
		!c.Timestamp.Equal(time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)) {
		t.Fatalf("call %+v", c)
	}
	if c.WebhookID != "pri_7:crm" || !c.SentAt.Equal(now) || len(c.Body) == 0 || c.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("call %+v", c)
	}
	want := validator.ReplyTo{BaseURL: "https://gate.example/api/v1", EligiblePath: "/privacy-request/pri_7/pre-approve/eligible",
		NotEligiblePath: "/privacy-request/pri_7/pre-approve/not-eligible", Token: "reply-token"}
	if c.ReplyTo != want {
		t.Fatalf("reply to %+v", c.ReplyTo)
	}
	if u, _ := c.ReplyTo.URL(validator.NotEligible); u != "https://gate.example/api/v1/privacy-request/pri_7/pre-approve/not-eligible" {
		t.Fatalf("url %q", u)
	}
}

func TestParseRequestCapsTheBody(t *testing.T) {
	now := time.Now()
	v := verifierAt(t, now, vecSecret)
	v.MaxBodyBytes = 100
	big := bytes.Repeat([]byte("x"), 101)
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(big))
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set("webhook-id", "m")
	r.Header.Set("webhook-timestamp", ts)
	r.Header.Set("webhook-signature", sign(vecSecret, "m", ts, big))
	if _, err := v.ParseRequest(r); !errors.Is(err, validator.ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	// At the cap the body is read (and found malformed, so it got that far).
	r, _ = http.NewRequest(http.MethodPost, "/", bytes.NewReader(big[:100]))
	r.Header = http.Header{"Webhook-Id": {"m"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sign(vecSecret, "m", ts, big[:100])}}
	if _, err := v.ParseRequest(r); !errors.Is(err, validator.ErrMalformedBody) {
		t.Fatalf("err = %v, want ErrMalformedBody", err)
	}
}

func TestNewVerifierRefusesBadSecrets(t *testing.T) {
	for _, secrets := range [][]string{nil, {""}, {"whsec_"}, {"whsec_not base64!"}, {vecSecret, "whsec_%%%"}} {
		if _, err := validator.NewVerifier(secrets...); err == nil {
			t.Errorf("NewVerifier(%q) accepted", secrets)
		}
	}
	// Without the prefix, as the Standard Webhooks libraries accept.
	if _, err := validator.NewVerifier(strings.TrimPrefix(vecSecret, "whsec_")); err != nil {
		t.Fatal(err)
	}
}

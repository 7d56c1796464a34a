package validator_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
)

// FuzzVerify: whatever the headers and body, Verify either refuses with a
// *CallError of exactly one kind, quoting neither secret nor signature, or
// returns a call that was signed with the secret, whose body names a
// privacy request and whose reply-to headers stay on an http(s) base URL.
func FuzzVerify(f *testing.F) {
	body := `{"privacy_request_id":"pri_1","privacy_request_status":"awaiting_pre_approval","direction":"two_way",` +
		`"callback_type":"pre_approval","identity":{"email":"a@example.com","phone_number":null},"policy_action":"access",` +
		`"privacy_request":{"id":"pri_1","status":"awaiting_pre_approval","external_id":null,"requested_at":"2026-11-26T12:00:00.123456Z",` +
		`"identity_verified_at":null,"policy":{"key":"default_access_policy","name":"Access","rules":[{"action_type":"access"}]}},` +
		`"timestamp":"2026-11-26T12:00:00.123456Z"}`
	ts := strconv.FormatInt(vecNow.Unix(), 10)
	for _, s := range []struct {
		body, id, ts, base, eligible, token string
		signed                              bool
	}{
		{body, "pri_1:h", ts, "https://gate.example/api/v1", "/privacy-request/pri_1/pre-approve/eligible", "tok", true},
		{body, "pri_1:h", ts, "https://gate.example/api/v1", "//evil.example/x", "tok", true},
		{body, "pri_1:h", ts, "javascript:alert(1)", "/x", "tok", true},
		{body, "pri_1:h", "+" + ts, "https://gate.example", "/x", "tok", true},
		{body, "pri_1:h", ts, "https://gate.example", "/x", "", false},
		{`{"privacy_request_id":""}`, "x", ts, "http://h", "/x", "t", true},
		{`{"timestamp":"yesterday","privacy_request_id":"p"}`, "x", ts, "http://h", "/x", "t", true},
		{`[]`, "", "", "", "", "", true}, {`null`, "x", "1", "http://h", "/", "t", true},
	} {
		f.Add([]byte(s.body), s.id, s.ts, s.base, s.eligible, s.token, "v1,AAAA v2,x", s.signed)
	}
	v, err := validator.NewVerifier(vecSecret)
	if err != nil {
		f.Fatal(err)
	}
	v.Now = func() time.Time { return vecNow }
	f.Fuzz(func(t *testing.T, body []byte, id, ts, base, eligible, token, otherSigs string, signed bool) {
		sigs := otherSigs
		if signed {
			sigs = sign(vecSecret, id, ts, body) + " " + otherSigs
		}
		h := http.Header{}
		for k, val := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sigs,
			"reply-to-base-url": base, "reply-to-eligible": eligible, "reply-to-not-eligible": eligible, "reply-to-token": token} {
			h.Set(k, val)
		}
		call, err := v.Verify(h, body)
		if err != nil {
			var ce *validator.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *CallError", err, err)
			}
			kinds := 0
			for _, k := range []error{validator.ErrBadSignature, validator.ErrStaleTimestamp, validator.ErrMalformedHeader, validator.ErrMalformedBody, validator.ErrBodyTooLarge} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("error %v matches %d kinds", err, kinds)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(vecSecret, "whsec_")) || (signed && strings.Contains(err.Error(), sign(vecSecret, id, ts, body)[3:])) {
				t.Fatalf("error %v quotes the secret or the signature", err)
			}
			return
		}
		if !signed {
			t.Fatalf("accepted a call not signed with the secret: signatures %q", sigs)
		}
		var want struct {
			ID string `json:"privacy_request_id"`
		}
		if json.Unmarshal(body, &want) != nil || want.ID == "" || call.PrivacyRequestID != want.ID || call.WebhookID != id {
			t.Fatalf("body %q accepted as request %q (webhook-id %q)", body, call.PrivacyRequestID, call.WebhookID)
		}
		u, err := url.Parse(call.ReplyTo.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || call.ReplyTo.Token == "" ||
			!strings.HasPrefix(call.ReplyTo.EligiblePath, "/") || strings.HasPrefix(call.ReplyTo.EligiblePath, "//") {
			t.Fatalf("accepted reply-to %+v", call.ReplyTo)
		}
	})
}

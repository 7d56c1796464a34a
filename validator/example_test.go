package validator_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/pregate/pregate/validator"
)

// A validator that flags subjects of one domain for manual review and lets
// everyone else through. The gate is played by two test servers: its reply
// route, and the call it makes.
func Example() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // signing_secret of the webhook

	verifier, err := validator.NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	h := &validator.Handler{
		Verifier: verifier,
		Decide: func(ctx context.Context, c *validator.Call) (validator.Decision, error) {
			if strings.HasSuffix(c.Identity.Email, "@blocked.example") {
				return validator.NotEligible, nil
			}
			return validator.Eligible, nil
		},
	}
	srv := httptest.NewServer(h) // in production: http.ListenAndServe(":8099", h)
	defer srv.Close()

	received := make(chan string, 1)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization")
		fmt.Fprint(w, "null")
	}))
	defer gate.Close()

	for _, email := range []string{"ada@example.com", "eve@blocked.example"} {
		resp, err := http.DefaultClient.Do(gateCall(gate.URL+"/api/v1", srv.URL, secret, "pri_1", email, time.Now()))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println("the validator answered the call:", resp.Status)
		h.Wait() // the answer goes out in the background
		fmt.Println("the gate received:", <-received)
	}
	// Output:
	// the validator answered the call: 202 Accepted
	// the gate received: POST /api/v1/privacy-request/pri_1/pre-approve/eligible Bearer reply-token
	// the validator answered the call: 202 Accepted
	// the gate received: POST /api/v1/privacy-request/pri_1/pre-approve/not-eligible Bearer reply-token
}

// gateCall is a pre-approval call as the gate sends it, signed at
// sentAt with secret.
func gateCall(baseURL, target, secret, id, email string, sentAt time.Time) *http.Request {
	body := []byte(`{"privacy_request_id":"` + id + `","privacy_request_status":"awaiting_pre_approval","direction":"two_way",` +
		`"callback_type":"pre_approval","identity":{"email":"` + email + `","phone_number":null},"policy_action":"access",` +
		`"privacy_request":{"id":"` + id + `","status":"awaiting_pre_approval","external_id":null,"requested_at":"2026-11-26T11:59:59.000001Z",` +
		`"identity_verified_at":null,"policy":{"key":"default_access_policy","name":"Default Access Policy","rules":[{"action_type":"access"}]}},` +
		`"timestamp":"2026-11-26T12:00:00.123456Z"}`)
	r, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	ts := strconv.FormatInt(sentAt.Unix(), 10)
	for k, v := range map[string]string{
		"Content-Type":          "application/json",
		"reply-to-base-url":     baseURL,
		"reply-to-eligible":     "/privacy-request/" + id + "/pre-approve/eligible",
		"reply-to-not-eligible": "/privacy-request/" + id + "/pre-approve/not-eligible",
		"reply-to-token":        "reply-token",
		"webhook-id":            id + ":crm",
		"webhook-timestamp":     ts,
		"webhook-signature":     sign(secret, id+":crm", ts, body),
	} {
		r.Header.Set(k, v)
	}
	return r
}

// sign is the Standard Webhooks signature, computed here as the
// specification states it rather than with the package's code.
func sign(secret, id, ts string, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + ts + "."))
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

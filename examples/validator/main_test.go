package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/webhook"
	"github.com/pregate/pregate/validator"
)

// A call signed by the gate's signer is answered on the path the rule picks,
// with the token; a call with a bad signature is refused and never answered.
func TestValidatorRepliesByRule(t *testing.T) {
	replies := make(chan string, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		replies <- r.URL.Path + " " + r.Header.Get("Authorization")
		_, _ = w.Write([]byte("null"))
	}))
	defer api.Close()
	secret, err := webhook.NewSigningSecret()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := validator.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := &validator.Handler{Verifier: verifier, Decide: parseDenyList(" Blocked@example.com ,").Decide,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	send := func(email string, sign bool) int {
		body := []byte(`{"privacy_request_id":"pri_1","identity":{"email":"` + email + `"},"policy_action":"access"}`)
		req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
		now := time.Now()
		sig, _ := webhook.Sign(secret, "pri_1:crm", now, body)
		if !sign {
			sig = "v1,AAAA"
		}
		for k, val := range map[string]string{
			"webhook-id": "pri_1:crm", "webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig,
			"reply-to-base-url": api.URL + "/api/v1", "reply-to-token": "tok",
			"reply-to-eligible": "/privacy-request/pri_1/pre-approve/eligible", "reply-to-not-eligible": "/privacy-request/pri_1/pre-approve/not-eligible",
		} {
			req.Header.Set(k, val)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		h.Wait()
		return rec.Code
	}
	if code := send("ada@example.com", true); code != http.StatusAccepted {
		t.Fatalf("signed call: %d", code)
	}
	if got := <-replies; got != "/api/v1/privacy-request/pri_1/pre-approve/eligible Bearer tok" {
		t.Fatalf("reply %q", got)
	}
	if code := send("BLOCKED@example.com", true); code != http.StatusAccepted {
		t.Fatalf("signed call: %d", code)
	}
	if got := <-replies; got != "/api/v1/privacy-request/pri_1/pre-approve/not-eligible Bearer tok" {
		t.Fatalf("reply %q", got)
	}
	if code := send("ada@example.com", false); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	select {
	case got := <-replies:
		t.Fatalf("replied to a call with a bad signature: %q", got)
	default: // Wait has returned: no answer is on its way
	}
}

func TestRunNeedsASecret(t *testing.T) {
	err := run("127.0.0.1:0", []string{""}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("started without a signing secret")
	}
}

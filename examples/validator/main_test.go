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
)

// A signed call is answered on the path the rule picks, with the token; a
// call with a bad signature is refused and never answered.
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
	v := &Validator{SigningSecrets: []string{secret}, Deny: map[string]bool{"blocked@example.com": true}, Client: api.Client(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}

	send := func(email string, sign bool) int {
		body := []byte(`{"privacy_request_id":"pri_1","identity":{"email":"` + email + `"},"policy_action":"access"}`)
		req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
		now := time.Now()
		sig, _ := webhook.Sign(secret, "pri_1:crm", now, body)
		if !sign {
			sig = "v1,AAAA"
		}
		for k, val := range map[string]string{
			"webhook-id": "pri_1:crm", "webhook-timestamp": itoa(now.Unix()), "webhook-signature": sig,
			"reply-to-base-url": api.URL + "/api/v1", "reply-to-token": "tok",
			"reply-to-eligible": "/privacy-request/pri_1/pre-approve/eligible", "reply-to-not-eligible": "/privacy-request/pri_1/pre-approve/not-eligible",
		} {
			req.Header.Set(k, val)
		}
		rec := httptest.NewRecorder()
		v.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := send("ada@example.com", true); code != http.StatusAccepted {
		t.Fatalf("signed call: %d", code)
	}
	if got := <-replies; got != "/api/v1/privacy-request/pri_1/pre-approve/eligible Bearer tok" {
		t.Fatalf("reply %q", got)
	}
	if code := send("blocked@example.com", true); code != http.StatusAccepted {
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
	case <-time.After(200 * time.Millisecond):
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

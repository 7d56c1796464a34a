// Command validator is an example pre-approval validator: it receives the
// gate's call, checks its Standard Webhooks signature, decides by a rule
// (eligible unless the subject's email is on a deny list) and replies through
// reply-to-base-url + reply-to-eligible / reply-to-not-eligible with the token.
//
//	go run ./examples/validator -addr 127.0.0.1:8099 -signing-secret whsec_... -deny blocked@example.com
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pregate/pregate/internal/webhook"
)

// call is the part of the gate's body this validator reads (SPEC §4).
type call struct {
	PrivacyRequestID string `json:"privacy_request_id"`
	Identity         struct {
		Email string `json:"email"`
	} `json:"identity"`
	PolicyAction string `json:"policy_action"`
}

// Validator answers pre-approval calls.
type Validator struct {
	SigningSecrets []string
	Deny           map[string]bool
	Client         *http.Client
	Log            *slog.Logger
	Now            func() time.Time
}

// ServeHTTP acknowledges the call at once (the gate wants a 2xx quickly) and
// replies in the background, as a real validator that checks a CRM would.
func (v *Validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if err := webhook.VerifySignature(v.SigningSecrets, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
		r.Header.Get("webhook-signature"), body, v.Now(), 5*time.Minute); err != nil {
		v.Log.Warn("refused a call with a bad signature", "error", err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var c call
	if err := json.Unmarshal(body, &c); err != nil || c.PrivacyRequestID == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	path := r.Header.Get("reply-to-eligible")
	if v.Deny[strings.ToLower(c.Identity.Email)] {
		path = r.Header.Get("reply-to-not-eligible")
	}
	target := strings.TrimRight(r.Header.Get("reply-to-base-url"), "/") + path
	token := r.Header.Get("reply-to-token")
	w.WriteHeader(http.StatusAccepted)
	go v.reply(c.PrivacyRequestID, target, token)
}

// reply POSTs {} with the token, retrying 5xx and network errors.
func (v *Validator) reply(requestID, target, token string) {
	for attempt := 1; attempt <= 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		status, err := v.post(ctx, target, token)
		cancel()
		if err == nil && status < 500 {
			v.Log.Info("replied", "privacy_request_id", requestID, "target", target, "status", status)
			return
		}
		v.Log.Warn("reply failed, retrying", "privacy_request_id", requestID, "attempt", attempt, "status", status)
		time.Sleep(time.Duration(attempt) * time.Second)
	}
}

func (v *Validator) post(ctx context.Context, target, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewBufferString("{}"))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	secret := flag.String("signing-secret", os.Getenv("WEBHOOK_SIGNING_SECRET"), "the webhook's signing secret (whsec_...), shown when the webhook was created")
	deny := flag.String("deny", "", "comma-separated emails to answer not eligible")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *secret == "" {
		fmt.Fprintln(os.Stderr, "validator: -signing-secret (or WEBHOOK_SIGNING_SECRET) is required")
		os.Exit(2)
	}
	v := &Validator{SigningSecrets: []string{*secret}, Deny: map[string]bool{}, Client: &http.Client{Timeout: 10 * time.Second}, Log: log, Now: time.Now}
	for _, e := range strings.Split(*deny, ",") {
		if e = strings.TrimSpace(strings.ToLower(e)); e != "" {
			v.Deny[e] = true
		}
	}
	log.Info("validator listening", "addr", *addr)
	srv := &http.Server{Addr: *addr, Handler: v, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "validator:", err)
		os.Exit(1)
	}
}

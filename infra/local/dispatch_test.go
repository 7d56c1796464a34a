package local_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/keys"
	sdk "github.com/pregate/pregate/validator"
)

// validatorCall is one call a test validator received.
type validatorCall struct {
	header http.Header
	body   []byte
}

// wantCall is what one pre-approval call must say beyond what every call
// of these tests shares (policy default_access_policy, action access).
type wantCall struct {
	id, hook, email string
	externalID      string // "" when the request has none: external_id must then be null
	verified        bool   // identity_verified_at is set
}

// check holds the call to a validator as a validator sees it: the headers, the
// signature under secret and the body, read with the public validator SDK
// so that the SDK's types are tested along with what the gate sends.
func (c validatorCall) check(t *testing.T, apiURL, secret string, want wantCall) {
	t.Helper()
	id, hook := want.id, want.hook
	headers := map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer val-" + hook, "X-Api-Key": "hdr-" + hook,
		"reply-to-eligible":     "/privacy-request/" + id + "/pre-approve/eligible",
		"reply-to-not-eligible": "/privacy-request/" + id + "/pre-approve/not-eligible",
		"reply-to-approve":      "/privacy-request/" + id + "/pre-approve/eligible",
		"reply-to-deny":         "/privacy-request/" + id + "/pre-approve/not-eligible",
		"reply-to-base-url":     apiURL + "/api/v1",
		"webhook-id":            id + ":" + hook,
	}
	for k, w := range headers {
		if got := c.header.Get(k); got != w {
			t.Errorf("%s: header %s = %q, want %q", hook, k, got, w)
		}
	}
	if c.header.Get("reply-to-token") == "" {
		t.Errorf("%s: no reply-to-token", hook)
	}
	verifier, err := sdk.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	call, err := verifier.Verify(c.header, c.body)
	if err != nil {
		t.Errorf("%s: the validator SDK refuses the call: %v", hook, err)
		return
	}
	pr := call.PrivacyRequest
	externalOK := pr.ExternalID == nil && want.externalID == "" || pr.ExternalID != nil && *pr.ExternalID == want.externalID
	if call.PrivacyRequestID != id || call.PrivacyRequestStatus != "awaiting_pre_approval" || call.Direction != "two_way" ||
		call.CallbackType != "pre_approval" || call.PolicyAction != "access" || call.Identity.Email != want.email ||
		pr.ID != id || pr.Status != "awaiting_pre_approval" || !externalOK || (pr.IdentityVerifiedAt != nil) != want.verified ||
		pr.Policy.Key != "default_access_policy" || pr.Policy.Name == "" || len(pr.Policy.Rules) != 1 || pr.Policy.Rules[0].ActionType != "access" {
		t.Errorf("%s: body %s", hook, c.body)
	}
	// The SDK parses the times; the contract also fixes how they are written.
	var times struct {
		Timestamp      string `json:"timestamp"`
		PrivacyRequest struct {
			RequestedAt string `json:"requested_at"`
		} `json:"privacy_request"`
	}
	if err := json.Unmarshal(c.body, &times); err != nil {
		t.Fatalf("%s: body %s: %v", hook, c.body, err)
	}
	for _, ts := range []string{times.Timestamp, times.PrivacyRequest.RequestedAt} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || len(ts) != len("2026-11-26T12:00:00.123456Z") {
			t.Errorf("%s: time %q is not RFC 3339 with microseconds", hook, ts)
		}
	}
}

// validator is a customer's service on 127.0.0.1 (the local defaults allow
// insecure URLs); it answers every call with status.
type validator struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	calls  []validatorCall
}

func newValidator(t *testing.T, status int) *validator {
	t.Helper()
	v := &validator{}
	v.status.Store(int32(status))
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v.mu.Lock()
		v.calls = append(v.calls, validatorCall{header: r.Header.Clone(), body: body})
		v.mu.Unlock()
		w.WriteHeader(int(v.status.Load()))
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *validator) received() []validatorCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]validatorCall(nil), v.calls...)
}

// validatorWebhook makes the webhook set one webhook, named "Hook <key>", on
// a connection to v, and returns its signing secret.
func (c *client) validatorWebhook(v *validator, key string) string {
	c.t.Helper()
	return c.webhookAt(v.srv.URL+"/hook", key)
}

// webhookAt makes the webhook set one webhook, named "Hook <key>", on a
// connection to url, and returns its signing secret.
func (c *client) webhookAt(url, key string) string {
	c.t.Helper()
	conn := unique("valconn")
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
	c.must(200, "PUT", "/connection/"+conn+"/secret", map[string]any{"url": url, "authorization": "Bearer val-" + key,
		"headers": map[string]string{"X-Api-Key": "hdr-" + key}}, nil)
	var out []webhookOut
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": key, "name": "Hook " + key, "connection_config_key": conn}}, &out)
	c.t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
	if len(out) != 1 || !strings.HasPrefix(out[0].SigningSecret, "whsec_") {
		c.t.Fatalf("webhook set: %+v", out)
	}
	return out[0].SigningSecret
}

type dispatchedRequest struct {
	Status   string `json:"status"`
	Webhooks []struct {
		Key      string `json:"key"`
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
	} `json:"webhooks"`
}

// TestDispatcherCallsTheValidatorWhoRepliesEligible is the validator call end to end:
// submit, stream, dispatch queue, dispatcher, validator; then the validator
// replies with what it was given and the request is approved.
func TestDispatcherCallsTheValidatorWhoRepliesEligible(t *testing.T) {
	c := admin(t)
	v := newValidator(t, 200)
	hook := unique("disp")
	secret := c.validatorWebhook(v, hook)
	id, status := c.submit()
	if status != "awaiting_pre_approval" {
		t.Fatalf("submitted request is %s", status)
	}
	waitUntil(t, 20*time.Second, func() bool { return len(v.received()) > 0 })
	call := v.received()[0]
	h := call.header
	call.check(t, c.sys.URL, secret, wantCall{id: id, hook: hook, email: "subject@example.com"})
	if t.Failed() {
		t.FailNow()
	}
	claims, err := keys.NewTokens(replyKeys(t), time.Hour, nil).Verify(h.Get("reply-to-token"))
	if err != nil || claims.PrivacyRequestID != id || claims.WebhookKey != hook {
		t.Fatalf("reply token: %+v %v", claims, err)
	}

	// The call is recorded once.
	var got dispatchedRequest
	waitUntil(t, 10*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].State == "called"
	})
	if got.Webhooks[0].Attempts != 1 || got.Status != "awaiting_pre_approval" {
		t.Fatalf("request after the call: %+v", got)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	if !hasActivity(act, "pre_approval_webhook_called", "Called pre-approval webhook 'Hook "+hook+"': HTTP 200") {
		t.Fatalf("no called entry in %+v", act)
	}

	replyEligible(t, h)
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "approved" || got.Webhooks[0].State != "eligible" {
		t.Fatalf("request after the reply: %+v", got)
	}
	if n := len(v.received()); n != 1 {
		t.Fatalf("validator called %d times, want 1", n)
	}
	// No token, authorization or signing secret in any log line.
	for _, s := range []string{h.Get("reply-to-token"), "val-" + hook, "hdr-" + hook, secret, h.Get("webhook-signature")} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("a secret reached the logs: %.12s…", s)
		}
	}
}

// TestDispatcherGivesUpAfterMaxAttempts: a validator answering 500 is called
// WEBHOOK_MAX_ATTEMPTS times (3 locally), always with the same webhook-id;
// then the webhook is failed and the request waits for an admin (pending).
func TestDispatcherGivesUpAfterMaxAttempts(t *testing.T) {
	c := admin(t)
	v := newValidator(t, 500)
	hook := unique("dispfail")
	c.validatorWebhook(v, hook)
	id, _ := c.submit()
	var got dispatchedRequest
	waitUntil(t, 30*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].State == "failed"
	})
	if got.Status != "pending" || got.Webhooks[0].Attempts != 3 {
		t.Fatalf("request: %+v", got)
	}
	calls := v.received()
	if len(calls) != 3 {
		t.Fatalf("validator called %d times, want 3", len(calls))
	}
	for _, call := range calls {
		if call.header.Get("webhook-id") != id+":"+hook {
			t.Fatalf("webhook-id %q changed across retries", call.header.Get("webhook-id"))
		}
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	if !hasActivity(act, "pre_approval_webhook_failed", "Pre-approval webhook 'Hook "+hook+"' failed after 3 attempts: HTTP 500") {
		t.Fatalf("no failed entry in %+v", act)
	}
}

func hasActivity(act activityOut, action, message string) bool {
	for _, e := range act.Items {
		if e.Action == action && deref(e.Message) == message {
			return true
		}
	}
	return false
}

// waitUntil polls cond until it holds or the deadline passes.
// replyEligible answers a call as a validator would: the base URL plus the
// eligible path, with the call's token.
func replyEligible(t *testing.T, call http.Header) {
	t.Helper()
	replyTo(t, call, "reply-to-eligible")
}

// replyTo answers a call on the path its header pathHeader gives
// (reply-to-eligible or reply-to-not-eligible), and wants 200.
func replyTo(t *testing.T, call http.Header, pathHeader string) {
	t.Helper()
	req, _ := http.NewRequest("POST", call.Get("reply-to-base-url")+call.Get(pathHeader), strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+call.Get("reply-to-token"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reply: %d %s", resp.StatusCode, raw)
	}
}

func waitUntil(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

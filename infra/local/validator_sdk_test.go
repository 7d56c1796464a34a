package local_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/openapitest"
	sdk "github.com/pregate/pregate/validator"
)

// TestValidatorSDKEndToEnd runs a validator written as a customer would,
// with the public SDK only, on loopback (the local system allows insecure
// URLs) behind a real webhook: it checks the gate's signature with the
// secret shown when the webhook was created and answers through
// reply-to-base-url in the background. A subject on its deny list is flagged
// for manual review; anyone else is approved, also after a secret rotation.
func TestValidatorSDKEndToEnd(t *testing.T) {
	c := admin(t)
	var validatorLogs lockedBuffer
	calls := make(chan *sdk.Call, 3)
	h := &sdk.Handler{
		Decide: func(_ context.Context, call *sdk.Call) (sdk.Decision, error) {
			calls <- call
			if call.Identity.Email == "blocked@example.com" {
				return sdk.NotEligible, nil
			}
			return sdk.Eligible, nil
		},
		Log:     slog.New(slog.NewJSONHandler(&validatorLogs, nil)),
		Replier: &sdk.Replier{Client: openapitest.Client(t)},
	}
	// The webhook needs the validator's URL, and the validator the
	// webhook's secret: listen first, serve once the secret is known.
	srv := httptest.NewUnstartedServer(h)
	t.Cleanup(func() { srv.Close(); h.Wait() })
	hook := unique("sdk")
	secret := c.webhookAt("http://"+srv.Listener.Addr().String()+"/validate", hook)
	verifier, err := sdk.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	h.Verifier = verifier
	srv.Start()

	approved, flagged := validatorOutcomes(hook)
	run := func(o outcome) *sdk.Call {
		t.Helper()
		c.submitExpecting(o)
		return <-calls
	}
	run(approved)
	run(flagged)

	// After a rotation the gate signs with the new and the previous secret:
	// the validator, still holding the previous one, goes on verifying, and
	// one holding only the new one would too.
	var rotated webhookOut
	c.must(200, "POST", "/dsr/webhook/pre_approval/"+hook+"/rotate-secret", nil, &rotated)
	call := run(approved)
	next, err := sdk.NewVerifier(rotated.SigningSecret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := next.Verify(call.Header, call.Body); err != nil {
		t.Fatalf("the new secret does not verify the call: %v", err)
	}
	if n := len(strings.Fields(call.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures after a rotation, want 2", n)
	}
	// The validator logs an answer after the gate took it, so the request
	// may be decided a moment before the line is written.
	waitUntil(t, 10*time.Second, func() bool { return strings.Count(validatorLogs.String(), "pre-approval answer sent") >= 3 })
	if l := validatorLogs.String(); strings.Contains(l, "refused") || strings.Count(l, "pre-approval answer sent") != 3 {
		t.Fatalf("validator logs:\n%s", l)
	}
}

// outcome is what a request for email comes to once the validator answered.
type outcome struct{ email, status, action, message string }

// validatorOutcomes are the outcomes of a deny-list validator behind webhook
// hook: ada@example.com approved, blocked@example.com flagged for review.
func validatorOutcomes(hook string) (approved, flagged outcome) {
	return outcome{"ada@example.com", "approved", "pre_approval_eligible", "Pre-approval webhook 'Hook " + hook + "' responded: eligible"},
		outcome{"blocked@example.com", "pre_approval_not_eligible", "pre_approval_not_eligible",
			"Request flagged for manual review by pre-approval webhooks. Webhook 'Hook " + hook + "' responded: not eligible"}
}

// submitExpecting submits a request for o.email and waits until it comes to
// o, with o's timeline entry.
func (c *client) submitExpecting(o outcome) {
	c.t.Helper()
	start := time.Now()
	id, status := c.submitAs(o.email)
	if status != "awaiting_pre_approval" {
		c.t.Fatalf("%s: submitted request is %s", o.email, status)
	}
	var got requestOut
	waitUntil(c.t, 30*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return got.Status == o.status
	})
	c.t.Logf("%s: %s %s after submission", o.email, o.status, time.Since(start).Round(time.Millisecond))
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	if !hasActivity(act, o.action, o.message) {
		c.t.Fatalf("%s: no %s entry in %+v", o.email, o.action, act)
	}
}

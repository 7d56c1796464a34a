package local_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-jose/go-jose/v4"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/keys"
)

// replyKeys loads the local system's real reply-token key set, as the
// dispatcher does, so tests can mint the tokens a validator would receive.
func replyKeys(t *testing.T) keys.KeySet {
	t.Helper()
	sys := system(t)
	ks, err := keys.LoadKeySet(context.Background(), secretsmanager.NewFromConfig(sys.AWS), sys.Stack.Resources["ReplyTokenKeySet"].Ref)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mint(t *testing.T, tokens *keys.Tokens, webhookKey, id string) string {
	t.Helper()
	tok, err := tokens.Mint(webhookKey, id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// reply posts a validator's answer ("eligible" or "not-eligible") with the
// given Authorization header (none when empty), as a validator would: body {}.
func reply(t *testing.T, id, answer, authorization string) (int, []byte) {
	t.Helper()
	return replyOn(t, system(t), id, answer, authorization)
}

// replyOn is reply on a given local system.
func replyOn(t *testing.T, sys *local.System, id, answer, authorization string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", sys.URL+"/api/v1/privacy-request/"+id+"/pre-approve/"+answer, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// webhooks replaces the global webhook set with one webhook per key (named
// "Hook <key>"), all on one fresh connection.
func (c *client) webhooks(keys ...string) {
	c.t.Helper()
	conn := c.connection(unique("replyconn"))
	set := []map[string]any{}
	for _, k := range keys {
		set = append(set, map[string]any{"key": k, "name": "Hook " + k, "connection_config_key": conn})
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", set, nil)
	c.t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
}

// submit creates one privacy request through the public route and returns its id and status.
func (c *client) submit() (string, string) {
	c.t.Helper()
	return c.submitAs("subject@example.com")
}

// submitAs is submit for the subject with this email.
func (c *client) submitAs(email string) (string, string) {
	c.t.Helper()
	var out struct {
		Succeeded []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"succeeded"`
	}
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": email}, "policy_key": "default_access_policy"}}, &out)
	if len(out.Succeeded) != 1 {
		c.t.Fatalf("submit: %+v", out)
	}
	return out.Succeeded[0].ID, out.Succeeded[0].Status
}

type requestOut struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Webhooks []struct {
		Key   string `json:"key"`
		State string `json:"state"`
	} `json:"webhooks"`
}

type activityEntry struct {
	Action     string  `json:"action"`
	Message    *string `json:"message"`
	WebhookKey *string `json:"webhook_key"`
	Actor      *string `json:"actor"`
}

type activityOut struct {
	Items []activityEntry `json:"items"`
}

// withAction is the timeline's entries of one action, oldest first.
func withAction(act activityOut, action string) []activityEntry {
	var out []activityEntry
	for _, e := range act.Items {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// lastDecisionEntry is the timeline's last entry other than the dispatcher's
// "called" ones: the validators' calls run concurrently with these replies,
// and their entries may land after them.
func lastDecisionEntry(act activityOut) activityEntry {
	for i := len(act.Items) - 1; i > 0; i-- {
		if act.Items[i].Action != "pre_approval_webhook_called" {
			return act.Items[i]
		}
	}
	return act.Items[0]
}

func expectReply(t *testing.T, name string, status int, raw []byte, wantStatus int, wantDetail string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: %d %s, want %d", name, status, raw, wantStatus)
	}
	if wantDetail == "" {
		if strings.TrimSpace(string(raw)) != "null" {
			t.Fatalf("%s: body %s, want null", name, raw)
		}
		return
	}
	if got := detailOf(t, raw); got != wantDetail {
		t.Fatalf("%s: detail %q, want %q", name, got, wantDetail)
	}
}

// TestReplyChecks walks the reply checks in order, over HTTP through the local gateway.
func TestReplyChecks(t *testing.T) {
	c := admin(t)
	hookA, hookB := unique("val_a"), unique("val_b")
	c.webhooks(hookA, hookB)
	ks := replyKeys(t)
	tokens := keys.NewTokens(ks, time.Hour, nil)

	id, status := c.submit()
	if status != "awaiting_pre_approval" {
		t.Fatalf("submitted request is %s", status)
	}
	valid := mint(t, tokens, hookA, id)

	// 1. header missing or not Bearer → 401.
	for _, h := range []string{"", "Basic " + valid, valid, "Bearer", "Bearer   "} {
		st, raw := reply(t, id, "eligible", h)
		expectReply(t, "auth header "+strings.SplitN(h, " ", 2)[0], st, raw, 401, "Failed to authenticate")
	}

	// 2. token does not decrypt / wrong shape → 403.
	otherJSON, err := keys.GenerateKeySetJSON(ks.Current.ID) // same kid, other secret: decryption fails
	if err != nil {
		t.Fatal(err)
	}
	other, err := keys.ParseKeySet(otherJSON)
	if err != nil {
		t.Fatal(err)
	}
	otherKid, err := keys.GenerateKeySetJSON("not-" + ks.Current.ID) // unknown kid
	if err != nil {
		t.Fatal(err)
	}
	otherKidSet, err := keys.ParseKeySet(otherKid)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"garbage":        "garbage",
		"five dots":      "a.b.c.d.e",
		"other secret":   mint(t, keys.NewTokens(other, time.Hour, nil), hookA, id),
		"unknown kid":    mint(t, keys.NewTokens(otherKidSet, time.Hour, nil), hookA, id),
		"over 4 KiB":     strings.Repeat("a", 5000),
		"tampered token": valid[:len(valid)-2] + "AA",
		// These decrypt with the system's own key: only the payload is wrong.
		"admin scope": sealClaims(t, map[string]any{"webhook_id": hookA, "privacy_request_id": id,
			"scopes": []string{"privacy-request:read"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}),
		"no exp": sealClaims(t, map[string]any{"webhook_id": hookA, "privacy_request_id": id,
			"scopes": []string{keys.ReviewScope}, "iat": time.Now().Unix()}),
		"extra claim": sealClaims(t, map[string]any{"webhook_id": hookA, "privacy_request_id": id,
			"scopes": []string{keys.ReviewScope}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "admin": true}),
	} {
		st, raw := reply(t, id, "eligible", "Bearer "+tok)
		expectReply(t, name, st, raw, 403, "Not Authorized for this action")
	}

	// 3. expired → 403 `Webhook token expired`.
	past := func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired := mint(t, keys.NewTokens(ks, time.Minute, past), hookA, id)
	st, raw := reply(t, id, "eligible", "Bearer "+expired)
	expectReply(t, "expired", st, raw, 403, "Webhook token expired")

	// 4. token for another request → 403.
	otherID, _ := c.submit()
	st, raw = reply(t, id, "eligible", "Bearer "+mint(t, tokens, hookA, otherID))
	expectReply(t, "other request's token", st, raw, 403, "Not Authorized for this action")
	// The sealed tokens of check 2 are refused for their payload alone: the
	// same sealing with a minted token's claims is accepted.
	st, raw = reply(t, otherID, "eligible", "Bearer "+sealClaims(t, map[string]any{"webhook_id": hookA, "privacy_request_id": otherID,
		"scopes": []string{keys.ReviewScope}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}))
	expectReply(t, "sealed like a minted token", st, raw, 200, "")
	// 3 before 4: expired and for another request → expired.
	st, raw = reply(t, id, "eligible", "Bearer "+mint(t, keys.NewTokens(ks, time.Minute, past), hookA, otherID))
	expectReply(t, "expired, other request's token", st, raw, 403, "Webhook token expired")

	// 6. request missing → 404 (checked before 5 so hookB is still configured).
	missing := gate.NewRequestID() // well-formed pri_<uuid4>, never stored
	st, raw = reply(t, missing, "eligible", "Bearer "+mint(t, tokens, hookA, missing))
	expectReply(t, "missing request", st, raw, 404, "No privacy request found with id: '"+missing+"'.")
	// 4 before 6: an existing request's token on a missing request's path → 403.
	st, raw = reply(t, missing, "eligible", "Bearer "+valid)
	expectReply(t, "existing request's token, missing path id", st, raw, 403, "Not Authorized for this action")

	// 7. request already decided (admin approval) → 400.
	decided, _ := c.submit()
	decidedTok := mint(t, tokens, hookA, decided)
	c.must(200, "PATCH", "/privacy-request/administrate/approve", map[string]any{"request_ids": []string{decided}}, nil)
	for _, answer := range []string{"eligible", "not-eligible"} {
		st, raw = reply(t, decided, answer, "Bearer "+decidedTok)
		expectReply(t, "decided request "+answer, st, raw, 400, "Privacy request with id '"+decided+"' is not in pending or awaiting pre-approval status.")
	}

	// 8. the same answer twice → 200 both; a different one after → 400.
	for i := range 2 {
		st, raw = reply(t, id, "eligible", "Bearer "+valid)
		expectReply(t, "eligible #"+string(rune('1'+i)), st, raw, 200, "")
	}
	st, raw = reply(t, id, "not-eligible", "Bearer "+valid)
	expectReply(t, "changed answer", st, raw, 400, "Pre-approval webhook '"+hookA+"' already replied for privacy request '"+id+"'.")
	var got requestOut
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "awaiting_pre_approval" {
		t.Fatalf("after one eligible of two: %s", got.Status)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	if eligible := len(withAction(act, "pre_approval_eligible")); eligible != 1 {
		t.Fatalf("repeated eligible reply recorded %d times: %+v", eligible, act.Items)
	}

	// 5. webhook deleted after the token was minted → 404, even before the
	// request is looked at (a missing request gives the webhook's 404 now).
	tokB := mint(t, tokens, hookB, id)
	c.must(200, "DELETE", "/dsr/webhook/pre_approval/"+hookB, nil, nil)
	st, raw = reply(t, id, "eligible", "Bearer "+tokB)
	expectReply(t, "deleted webhook", st, raw, 404, "No Pre-Approval Webhook found with id '"+hookB+"'.")
	st, raw = reply(t, missing, "eligible", "Bearer "+mint(t, tokens, hookB, missing))
	expectReply(t, "deleted webhook, missing request", st, raw, 404, "No Pre-Approval Webhook found with id '"+hookB+"'.")
	// The webhook's 404 also comes after the token checks.
	st, raw = reply(t, id, "eligible", "Bearer "+mint(t, keys.NewTokens(ks, time.Minute, past), hookB, id))
	expectReply(t, "deleted webhook, expired token", st, raw, 403, "Webhook token expired")
	// 4 before 5: another request's token of the deleted webhook → 403.
	st, raw = reply(t, id, "eligible", "Bearer "+mint(t, tokens, hookB, otherID))
	expectReply(t, "deleted webhook, other request's token", st, raw, 403, "Not Authorized for this action")
	// 5 before 7: the deleted webhook replying on a decided request → 404.
	st, raw = reply(t, decided, "eligible", "Bearer "+mint(t, tokens, hookB, decided))
	expectReply(t, "deleted webhook, decided request", st, raw, 404, "No Pre-Approval Webhook found with id '"+hookB+"'.")
}

// sealClaims encrypts any payload as the system's reply tokens are
// encrypted (internal/keys: the current key of the key-set secret, alg dir,
// A256GCM), so a test can send a token that decrypts but does not say what a
// minted one says.
func sealClaims(t *testing.T, claims map[string]any) string {
	t.Helper()
	sys := system(t)
	out, err := secretsmanager.NewFromConfig(sys.AWS).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(sys.Stack.Resources["ReplyTokenKeySet"].Ref)})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		KID    string `json:"current_kid"`
		Secret string `json:"current_secret"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &set); err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(set.Secret)) // keys.ParseKeySet: each AES-256 key is SHA-256 of its secret
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: key[:], KeyID: set.KID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestReplyHappyPaths: two webhooks both eligible approve the request; one
// not eligible flags it for manual review.
func TestReplyHappyPaths(t *testing.T) {
	c := admin(t)
	hookA, hookB := unique("ok_a"), unique("ok_b")
	c.webhooks(hookA, hookB)
	tokens := keys.NewTokens(replyKeys(t), time.Hour, nil)

	t.Run("all eligible", func(t *testing.T) {
		id, status := c.submit()
		if status != "awaiting_pre_approval" {
			t.Fatalf("submitted request is %s", status)
		}
		for _, h := range []string{hookA, hookB} {
			st, raw := reply(t, id, "eligible", "Bearer "+mint(t, tokens, h, id))
			expectReply(t, h, st, raw, 200, "")
		}
		var got requestOut
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		if got.Status != "approved" || len(got.Webhooks) != 2 {
			t.Fatalf("request: %+v", got)
		}
		for _, w := range got.Webhooks {
			if w.State != "eligible" {
				t.Fatalf("webhook %s is %s", w.Key, w.State)
			}
		}
		var act activityOut
		c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
		last := lastDecisionEntry(act)
		if last.Action != "approved" || last.Message == nil || *last.Message != "Request auto-approved by pre-approval webhooks" || last.Actor != nil {
			t.Fatalf("last activity: %+v (message %v)", last, deref(last.Message))
		}
		if approvals := len(withAction(act, "approved")); approvals != 1 {
			t.Fatalf("%d approvals in the timeline", approvals)
		}
		// A repeat after the approval is an idempotent success (a validator
		// SDK retrying after a lost response); a different answer is refused.
		st, raw := reply(t, id, "eligible", "Bearer "+mint(t, tokens, hookA, id))
		expectReply(t, "repeat after approval", st, raw, 200, "")
		st, raw = reply(t, id, "not-eligible", "Bearer "+mint(t, tokens, hookA, id))
		expectReply(t, "other answer after approval", st, raw, 400, "Privacy request with id '"+id+"' is not in pending or awaiting pre-approval status.")
	})

	t.Run("one not eligible", func(t *testing.T) {
		id, _ := c.submit()
		st, raw := reply(t, id, "eligible", "Bearer "+mint(t, tokens, hookA, id))
		expectReply(t, hookA, st, raw, 200, "")
		st, raw = reply(t, id, "not-eligible", "Bearer "+mint(t, tokens, hookB, id))
		expectReply(t, hookB, st, raw, 200, "")
		var got requestOut
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		if got.Status != "pre_approval_not_eligible" {
			t.Fatalf("request: %+v", got)
		}
		states := map[string]string{}
		for _, w := range got.Webhooks {
			states[w.Key] = w.State
		}
		if states[hookA] != "eligible" || states[hookB] != "not_eligible" {
			t.Fatalf("webhook states: %v", states)
		}
		var act activityOut
		c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
		last := lastDecisionEntry(act)
		want := "Request flagged for manual review by pre-approval webhooks. Webhook 'Hook " + hookB + "' responded: not eligible"
		if last.Action != "pre_approval_not_eligible" || deref(last.Message) != want || deref(last.WebhookKey) != hookB || last.Actor != nil {
			t.Fatalf("last activity: %s %q %q", last.Action, deref(last.Message), deref(last.WebhookKey))
		}
		// Flagged is not decided: an admin can still approve.
		c.must(200, "PATCH", "/privacy-request/administrate/approve", map[string]any{"request_ids": []string{id}}, nil)
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// A request whose other webhook replied eligible and whose silent webhook is
// then deleted is complete (every webhook still configured has
// replied eligible); no further reply will come, so the reconciler
// approves it, with the auto-approve entry and exactly one approved message.
func TestReconcilerApprovesWhenTheSilentWebhookIsDeleted(t *testing.T) {
	c := admin(t)
	silent, answering := unique("silent"), unique("answering")
	c.webhooks(silent, answering)
	tokens := keys.NewTokens(replyKeys(t), time.Hour, nil)
	id, status := c.submit()
	if status != "awaiting_pre_approval" {
		t.Fatalf("submitted request is %s", status)
	}
	st, raw := reply(t, id, "eligible", "Bearer "+mint(t, tokens, answering, id))
	expectReply(t, answering, st, raw, 200, "")
	var got requestOut
	time.Sleep(2 * time.Second) // a reconciler run or two: nothing to approve yet
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "awaiting_pre_approval" {
		t.Fatalf("one eligible of two: %s", got.Status)
	}

	c.must(200, "DELETE", "/dsr/webhook/pre_approval/"+silent, nil, nil)
	waitUntil(t, 20*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return got.Status != "awaiting_pre_approval"
	})
	if got.Status != "approved" {
		t.Fatalf("after the silent webhook's deletion: %s, want approved", got.Status)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	approvals := withAction(act, "approved")
	if len(approvals) != 1 || deref(approvals[0].Message) != "Request auto-approved by pre-approval webhooks" ||
		deref(approvals[0].WebhookKey) != answering || approvals[0].Actor != nil {
		t.Fatalf("approval entries %+v", approvals)
	}

	// Exactly one approved message: wait for it, then a few seconds more for a second.
	msgs := approvedMessagesFor(t, system(t), id, 20*time.Second, 3*time.Second)
	if len(msgs) != 1 || msgs[0].ApprovedBy != nil || msgs[0].PolicyAction != "access" {
		t.Fatalf("approved messages for %s: %+v", id, msgs)
	}
}

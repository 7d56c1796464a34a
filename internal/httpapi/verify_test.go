package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// mailbox keeps the codes "mailed" by the use case; the SES adapter itself is
// tested against the emulator in internal/email, which cannot read mail back.
type mailbox struct {
	mu     sync.Mutex
	codes  map[string]string // email -> last code
	refuse string            // an address the "mail server" refuses
}

func (m *mailbox) SendVerificationCode(_ context.Context, v gate.VerificationMail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.To == m.refuse {
		return errors.New("mail server refused the message")
	}
	m.codes[v.To] = v.Code
	return nil
}

func (m *mailbox) code(to string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.codes[to]
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func newVerifyEnv(t *testing.T, hooks gate.WebhookLister) (*env, *mailbox, *clock) {
	box := &mailbox{codes: map[string]string{}}
	clk := &clock{at: time.Now()}
	e := newEnvWith(t, func(u *gate.Requests) {
		u.RequireManualApproval, u.Webhooks, u.VerifyIdentity, u.Codes, u.Now = true, hooks, true, box, clk.now
	})
	return e, box, clk
}

func (e *env) verify(id, code string) (int, map[string]any) {
	e.t.Helper()
	return e.do(call{method: "POST", path: "/api/v1/privacy-request/{id}/verify", params: map[string]string{"id": id},
		body: `{"code":"` + code + `"}`, noAuth: true})
}

// wrong is a code that is not code.
func wrong(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1_000_000)
}

func TestVerifyIdentityAdmitsTheRequest(t *testing.T) {
	e, box, _ := newVerifyEnv(t, staticWebhooks{{Key: "k", Name: "Hook K"}})
	// Every body this test gets must be free of the code.
	var bodies []string
	do := func(c call) (int, map[string]any) {
		t.Helper()
		status, raw := e.doRaw(c)
		bodies = append(bodies, c.method+" "+c.path+": "+raw)
		var body map[string]any
		if err := json.Unmarshal([]byte(raw), &body); err != nil {
			t.Fatalf("%s: %q: %v", c.path, raw, err)
		}
		return status, body
	}
	verify := func(id, code string) (int, map[string]any) {
		return do(call{method: "POST", path: "/api/v1/privacy-request/{id}/verify", params: map[string]string{"id": id},
			body: `{"code":"` + code + `"}`, noAuth: true})
	}
	get := func(path, id string) map[string]any {
		status, body := do(call{method: "GET", path: path, params: map[string]string{"id": id}})
		if status != 200 {
			t.Fatalf("GET %s: %d %v", id, status, body)
		}
		return body
	}

	_, res := do(call{method: "POST", path: "/api/v1/privacy-request", body: `[{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}]`, noAuth: true})
	id := list(res["succeeded"])[0].(map[string]any)["id"].(string)
	if got := get("/api/v1/privacy-request/{id}", id); got["status"] != "identity_unverified" || got["identity_verified_at"] != nil {
		t.Fatalf("submitted %v", got)
	}
	get("/api/v1/privacy-request/{id}/activity", id)
	do(call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"request_id": id}})
	code := box.code("a@example.com")
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	if status, body := verify(id, wrong(code)); status != 403 || body["detail"] != "Incorrect identification code. Enter a valid code!" {
		t.Errorf("wrong code: %d %v", status, body)
	}
	status, body := verify(id, code)
	if status != 200 || body["status"] != "awaiting_pre_approval" || !timeRE.MatchString(fmt.Sprint(body["identity_verified_at"])) ||
		fmt.Sprint(body["webhooks"]) != "[map[attempts:0 key:k mode:enforce state:pending]]" {
		t.Fatalf("verify: %d %v", status, body)
	}
	var actions []any
	for _, a := range list(get("/api/v1/privacy-request/{id}/activity", id)["items"]) {
		actions = append(actions, a.(map[string]any)["action"])
	}
	if fmt.Sprint(actions) != "[status_changed identity_verified pre_approval_webhook_triggered]" {
		t.Errorf("timeline %v", actions)
	}
	if status, body := verify(id, code); status != 400 ||
		body["detail"] != "Invalid identity verification request. Privacy request '"+id+"' status = awaiting_pre_approval." {
		t.Errorf("second verify: %d %v", status, body)
	}
	get("/api/v1/privacy-request/{id}", id)
	// The code stands alone: not inside a longer run of hex digits (an id, a time).
	alone := regexp.MustCompile(`(^|[^0-9a-f])` + code + `([^0-9a-f]|$)`)
	for _, b := range bodies {
		if alone.MatchString(b) {
			t.Errorf("the code %s is in a response: %s", code, b)
		}
	}
	if len(bodies) != 9 {
		t.Errorf("checked %d bodies, want 9", len(bodies))
	}
}

// TestSubmitCodeNotSentFailsThatItem: the mail server refuses one of two
// codes. That item fails and its request is removed; the other one stands.
func TestSubmitCodeNotSentFailsThatItem(t *testing.T) {
	e, box, _ := newVerifyEnv(t, nil)
	box.refuse = "b@example.com"
	res := e.submit(`{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}`,
		`{"identity":{"email":"b@example.com"},"policy_key":"default_erasure_policy"}`)
	ok, failed := list(res["succeeded"]), list(res["failed"])
	if len(ok) != 1 || len(failed) != 1 {
		t.Fatalf("result %v", res)
	}
	if got := fmt.Sprint(failed[0]); got != "map[data:map[identity:map[email:b@example.com] policy_key:default_erasure_policy] "+
		"message:The identity verification code could not be sent, so the request was not created. Try again later.]" {
		t.Errorf("failure %s", got)
	}
	items := list(e.mustOK(call{method: "GET", path: "/api/v1/privacy-request"})["items"])
	if len(items) != 1 || items[0].(map[string]any)["id"] != ok[0].(map[string]any)["id"] {
		t.Errorf("stored %v, want only the request whose code was sent", items)
	}
	if status, body := e.verify(ok[0].(map[string]any)["id"].(string), box.code("a@example.com")); status != 200 || body["status"] != "pending" {
		t.Errorf("the other request: %d %v", status, body)
	}
}

func TestVerifyCodeEndsAfterFiveWrongTries(t *testing.T) {
	e, box, _ := newVerifyEnv(t, nil)
	id := e.submitOne()
	code := box.code("a@example.com")
	for i := 1; i <= 5; i++ {
		status, body := e.verify(id, wrong(code))
		want := "Incorrect identification code. Enter a valid code!"
		if i == 5 {
			want = "Too many incorrect codes: this code no longer works. Submit a new request."
		}
		if status != 403 || body["detail"] != want {
			t.Errorf("try %d: %d %v", i, status, body)
		}
	}
	if status, body := e.verify(id, code); status != 403 || e.get(id)["status"] != "identity_unverified" {
		t.Errorf("right code after five wrong: %d %v", status, body)
	}
}

func TestVerifyCodeExpires(t *testing.T) {
	e, box, clk := newVerifyEnv(t, nil)
	id := e.submitOne()
	clk.add(gate.CodeTTL + time.Second)
	if status, body := e.verify(id, box.code("a@example.com")); status != 400 || body["detail"] != "The identification code has expired. Submit a new request." {
		t.Errorf("expired: %d %v", status, body)
	}
}

func TestVerifyErrors(t *testing.T) {
	e, _, _ := newVerifyEnv(t, nil)
	id := e.submitOne()
	res := e.submit(`{"identity":{"phone_number":"+14155552671"},"policy_key":"default_access_policy"}`)
	if f := list(res["failed"]); len(f) != 1 || f[0].(map[string]any)["message"] != "An email identity is required for identity verification" {
		t.Errorf("phone only: %v", res)
	}
	cases := []struct {
		name, id, body string
		status         int
	}{
		{"unknown request", "pri_00000000-0000-4000-8000-000000000000", `{"code":"123456"}`, 404},
		{"no code", id, `{}`, 422},
		{"code not a string", id, `{"code":123456}`, 422},
		{"malformed", id, `{"code":`, 400},
		{"extra field", id, `{"code":"1","x":1}`, 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.do(call{method: "POST", path: "/api/v1/privacy-request/{id}/verify", params: map[string]string{"id": c.id}, body: c.body, noAuth: true})
			if status != c.status || body["detail"] == nil {
				t.Errorf("%d %v, want %d", status, body, c.status)
			}
		})
	}
	if e.get(id)["status"] != "identity_unverified" {
		t.Error("bad input changed the request")
	}
}

// TestVerifyConcurrentWrongCodesShareNoTry fires ten wrong codes at once:
// each counts as one try, so the code is spent and the right one refused.
func TestVerifyConcurrentWrongCodesShareNoTry(t *testing.T) {
	e, box, _ := newVerifyEnv(t, nil)
	id := e.submitOne()
	code := box.code("a@example.com")
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if status, body := e.verify(id, wrong(code)); status != 403 {
				t.Errorf("wrong code: %d %v", status, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if status, body := e.verify(id, code); status != 403 || e.get(id)["status"] != "identity_unverified" {
		t.Errorf("right code after ten wrong: %d %v", status, body)
	}
}

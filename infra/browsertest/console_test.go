package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// startSystem runs a whole local system of its own (the webhook set is global).
func startSystem(t *testing.T) *local.System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: repoRoot(t), Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	return sys
}

// validator is a customer's validator: it records each call and, by the
// subject's email, replies not eligible ("flagged…"), eligible ("ok…"),
// fails ("fail…", HTTP 500) or stays silent.
type validator struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string][]http.Header // by privacy request id
}

func newValidator(t *testing.T) *validator {
	v := &validator{calls: map[string][]http.Header{}}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID       string `json:"privacy_request_id"`
			Identity struct {
				Email string `json:"email"`
			} `json:"identity"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		v.mu.Lock()
		v.calls[body.ID] = append(v.calls[body.ID], r.Header.Clone())
		v.mu.Unlock()
		email := body.Identity.Email
		if strings.HasPrefix(email, "fail") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		answer := ""
		switch {
		case r.Header.Get("pregate-test") == "true":
			answer = "reply-to-eligible"
		case r.URL.Path == "/strict": // a fraud model that flags everyone
			answer = "reply-to-not-eligible"
		case strings.HasPrefix(email, "flagged"):
			answer = "reply-to-not-eligible"
		case strings.HasPrefix(email, "ok"):
			answer = "reply-to-eligible"
		}
		if answer != "" {
			h := r.Header.Clone()
			go reply(t, h.Get("reply-to-base-url")+h.Get(answer), h.Get("reply-to-token"))
		}
	}))
	t.Cleanup(v.Close)
	return v
}

func reply(t *testing.T, target, token string) {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("reply: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("reply %s: HTTP %d", target, resp.StatusCode)
	}
}

func (v *validator) callsFor(id string) []http.Header {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[id]
}

// api is the test's own view through the API, with the root client's token.
type api struct {
	t     *testing.T
	base  string
	token string
}

func newAPI(t *testing.T, sys *local.System) *api {
	tok, err := sys.Auth.Mint("local-admin", []string{"webhook:read", "privacy-request:read"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, base: sys.URL + "/api/v1", token: tok}
}

func (a *api) call(method, path string, body, out any) {
	a.t.Helper()
	var in io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		in = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.base+path, in)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatal(err)
		}
	}
}

func (a *api) webhookKeys() []string {
	var page struct {
		Items []struct{ Key string } `json:"items"`
	}
	a.call("GET", "/dsr/webhook/pre_approval", nil, &page)
	var keys []string
	for _, w := range page.Items {
		keys = append(keys, w.Key)
	}
	return keys
}

// submit sends a privacy request as a data subject would (public route).
func (a *api) submit(email string) string {
	var out struct {
		Succeeded []struct{ ID string } `json:"succeeded"`
	}
	a.call("POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": email}, "policy_key": "default_access_policy"}}, &out)
	if len(out.Succeeded) != 1 {
		a.t.Fatalf("submit %s: %+v", email, out)
	}
	return out.Succeeded[0].ID
}

func (a *api) status(id string) string {
	var r struct{ Status string }
	a.call("GET", "/privacy-request/"+id, nil, &r)
	return r.Status
}

func (a *api) waitForStatus(id, want string) {
	a.t.Helper()
	a.waitFor(func() (bool, string) {
		got := a.status(id)
		return got == want, fmt.Sprintf("request %s is %s, want %s", id, got, want)
	})
}

// waitForCount waits until a request's timeline has want entries of action.
func (a *api) waitForCount(id, action string, want int) {
	a.t.Helper()
	a.waitFor(func() (bool, string) {
		got := a.count(id, action)
		return got == want, fmt.Sprintf("request %s has %d %s entries, want %d", id, got, action, want)
	})
}

// waitFor polls cond for 20 seconds, then fails with what it says.
func (a *api) waitFor(cond func() (ok bool, failure string)) {
	a.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for ok, failure := cond(); !ok; ok, failure = cond() {
		if time.Now().After(deadline) {
			a.t.Fatal(failure)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// count is how many timeline entries of a request have the action.
func (a *api) count(id, action string) int {
	var out struct {
		Items []struct{ Action string } `json:"items"`
	}
	a.call("GET", "/privacy-request/"+id+"/activity", nil, &out)
	n := 0
	for _, e := range out.Items {
		if e.Action == action {
			n++
		}
	}
	return n
}

func sameKeys(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestAdminConsole is an admin's morning in the console, step by step.
func TestAdminConsole(t *testing.T) {
	chromium(t)
	sys := startSystem(t)
	through := newAPI(t, sys)
	crmOld, crmNew := newValidator(t), newValidator(t)
	browserCtx := browser(t)
	user := sys.Auth.User()

	ada := newPerson(t, browserCtx, "admin", sys.URL)
	ada.opensTheConsole()
	ada.logsIn(user.Name, user.Password)

	// Two webhooks added one after the other: both remain.
	ada.goesTo("webhooks")
	ada.addsWebhook("CRM check", crmOld.URL+"/crm", "Bearer crm-secret")
	ada.addsWebhook("Ticketing check", crmOld.URL+"/tickets", "Bearer ticket-secret")
	ada.step("see both webhooks", chromedp.WaitVisible(ada.row("webhooks", "crm_check")), chromedp.WaitVisible(ada.row("webhooks", "ticketing_check")))
	if keys := through.webhookKeys(); !sameKeys(keys, "crm_check", "ticketing_check") {
		t.Fatalf("webhooks after two adds: %v", keys)
	}

	// The URL moves to the new validator; the authorization is left blank.
	ada.editsWebhookURL("CRM check", crmNew.URL+"/crm")
	if got := ada.text("read the new URL", chromedp.CSS(`#webhooks tr[data-key="crm_check"] td.url`)); got != crmNew.URL+"/crm" {
		t.Fatalf("URL shown after the edit: %q", got)
	}
	ada.deletesWebhook("Ticketing check")
	ada.step("see one webhook left", chromedp.WaitNotPresent(ada.row("webhooks", "ticketing_check")), chromedp.WaitVisible(ada.row("webhooks", "crm_check")))
	if keys := through.webhookKeys(); !sameKeys(keys, "crm_check") {
		t.Fatalf("webhooks after the delete: %v", keys)
	}
	ada.goesTo("connections")
	ada.step("see the connection and its webhook", chromedp.WaitVisible(ada.row("connections", "crm_check")))
	if got := ada.text("read who uses it", chromedp.CSS(`#connections tr[data-key="crm_check"] td[data-label="Used by"]`)); got != "CRM check" {
		t.Errorf("connection used by %q", got)
	}
	ada.picture("connections")

	// Data subjects submit; the validator flags one.
	flagged := through.submit("flagged@example.com")
	held := through.submit("flagged.hold@example.com")
	okID := through.submit("ok@example.com")
	failing := through.submit("fail@example.com")
	waiting := through.submit("waiting@example.com")
	through.waitForStatus(flagged, "pre_approval_not_eligible")
	through.waitForStatus(held, "pre_approval_not_eligible")
	through.waitForStatus(okID, "approved")
	through.waitForStatus(failing, "pending")
	// The edit kept the stored authorization: the new validator got it.
	calls := crmNew.callsFor(flagged)
	if len(calls) == 0 || calls[0].Get("Authorization") != "Bearer crm-secret" {
		t.Fatalf("the new validator's call: %v", calls)
	}
	if len(crmOld.callsFor(flagged)) != 0 {
		t.Fatal("the old URL was still called")
	}

	ada.goesTo("requests")
	ada.step("see every request, newest first", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tbody tr:first-child[data-id=%q]`, waiting))))
	ada.picture("requests")
	ada.filtersRequestsBy("Manual review required")
	ada.step("see the flagged requests only",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, flagged))),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, okID))))

	// A read-only admin sees the same request, and no button that would fail.
	reader := newPerson(t, browserCtx, "read-only admin", sys.URL)
	reader.opensTheConsole()
	reader.narrowsTheLoginTo("pregate/privacy-request:read", "pregate/webhook:read", "pregate/connection:read")
	reader.logsIn(user.Name, user.Password)
	reader.step("open the flagged request", chromedp.Navigate(sys.URL+"/admin/#/requests/"+flagged), chromedp.WaitVisible(chromedp.ID("timeline")))
	if n := reader.eval("count the buttons", `[...document.querySelectorAll('main button')].filter((b) => !['Reveal', 'Download evidence'].includes(b.textContent)).length`); n != float64(0) {
		t.Fatalf("a read-only admin sees %v buttons on a request besides Reveal and Download evidence", n)
	}
	reader.goesTo("webhooks")
	reader.step("see the webhook", chromedp.WaitVisible(reader.row("webhooks", "crm_check")))
	if n := reader.eval("count the buttons", `[...document.querySelectorAll('main button')].filter((b) => b.textContent !== 'Delivery log').length`); n != float64(0) {
		t.Fatalf("a read-only admin sees %v buttons on the webhooks page besides the delivery log", n)
	}

	// The admin reviews the flagged request: its timeline, then approval.
	ada.opensRequest(flagged)
	for _, action := range []string{"pre_approval_webhook_triggered", "pre_approval_webhook_called", "pre_approval_not_eligible"} {
		ada.step("see the timeline entry "+action, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#timeline li[data-action=%q]`, action))))
	}
	ada.picture("request")
	ada.approves()
	ada.step("see it approved on the timeline", chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-action="approved"]`)))
	if got := ada.text("read who approved it", chromedp.CSS(`#timeline li[data-action="approved"]`)); !strings.Contains(got, "by "+user.Name) {
		t.Errorf("the approval on the timeline: %q, want the admin's name", got)
	}
	through.waitForStatus(flagged, "approved")

	ada.step("back to the list", chromedp.Navigate(sys.URL+"/admin/#/requests?status=pre_approval_not_eligible"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, held))))
	ada.opensRequest(held)
	ada.denies("Account under legal hold")
	ada.step("see the reason on the timeline", chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-action="denied"]`)))
	if got := ada.text("read the reason", chromedp.CSS(`#timeline li[data-action="denied"] p`)); got != "Account under legal hold" {
		t.Errorf("deny reason on the timeline: %q", got)
	}
	through.waitForStatus(held, "denied")

	// The validator that failed is back: pre-approval runs again.
	ada.step("open the New request", chromedp.Navigate(sys.URL+"/admin/#/requests?status=pending"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, failing))))
	ada.opensRequest(failing)
	ada.step("see the failed webhook", chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-action="pre_approval_webhook_failed"]`)), chromedp.WaitVisible(chromedp.ID("retry")))
	ada.picture("request-new")
	ada.rerunsPreApproval()
	if n := through.count(failing, "pre_approval_webhook_triggered"); n != 2 {
		t.Errorf("pre-approval triggered %d times, want 2", n)
	}

	// A new validator checks erasure requests only; a test call reaches it
	// and its reply shows; the CRM check's delivery log and health show its calls.
	ada.goesTo("webhooks")
	ada.addsWebhook("Erasure fraud", crmNew.URL+"/erasure", "Bearer erasure-secret", "erasure")
	var scoped struct {
		PolicyActions []string `json:"policy_actions"`
	}
	through.call("GET", "/dsr/webhook/pre_approval/erasure_fraud", nil, &scoped)
	if !slices.Equal(scoped.PolicyActions, []string{"erasure"}) {
		t.Fatalf("scope of the new webhook: %v", scoped.PolicyActions)
	}
	ada.sendsTestCall("Erasure fraud", "Replied")
	if got := ada.text("read the scope", chromedp.CSS(`#webhooks tr[data-key="erasure_fraud"] td[data-label="Checks"]`)); got != "erasure" {
		t.Errorf("scope shown: %q", got)
	}

	// A strict fraud model watched in shadow mode: it flags a request the CRM
	// check finds eligible, which is approved all the same; the request's
	// page shows its verdict apart. Then it is promoted to enforce.
	ada.addsWebhookIn("shadow", "Strict fraud model", crmNew.URL+"/strict", "Bearer strict-secret")
	watched := through.submit("ok.watched@example.com")
	through.waitForStatus(watched, "approved")
	through.waitForCount(watched, "pre_approval_shadow_reply", 1)
	ada.goesTo("requests")
	// The list counts the shadow webhook apart: its not-eligible verdict is not the request's.
	if got := ada.eval("read the request's webhooks in the list", fmt.Sprintf(`[...document.querySelectorAll('#requests tr[data-id=%q] td[data-label="Webhooks"] li')].map((li) => li.textContent).join('|')`, watched)); got != "1 eligible|1 shadow" {
		t.Errorf("the list's webhooks of a request with a shadow webhook: %q, want 1 eligible|1 shadow", got)
	}
	ada.opensRequest(watched)
	ada.step("see the shadow verdict apart", chromedp.WaitVisible(ada.row("shadow-webhooks", "strict_fraud_model")),
		chromedp.WaitVisible(ada.row("request-webhooks", "crm_check")), chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-action="pre_approval_shadow_reply"]`)))
	if got := ada.text("read the shadow's state", chromedp.CSS(`#shadow-webhooks tr[data-key="strict_fraud_model"] td[data-label="State"]`)); got != "Not eligible" {
		t.Errorf("the shadow's state: %q", got)
	}
	ada.picture("request-shadow")
	ada.goesTo("webhooks")
	ada.opensDeliveryLog("CRM check", 4)
	ada.step("see the health of the CRM check", chromedp.WaitVisible(chromedp.CSS(`#webhooks tr[data-key="crm_check"] .health`)))
	ada.picture("webhooks")
	ada.promotesWebhook("Strict fraud model", "strict_fraud_model")
	var promoted struct {
		Mode string `json:"mode"`
	}
	if through.call("GET", "/dsr/webhook/pre_approval/strict_fraud_model", nil, &promoted); promoted.Mode != "enforce" {
		t.Fatalf("after the promotion: %q", promoted.Mode)
	}

	// The token runs out while a form is open: sign in again, the form comes back.
	ada.goesTo("webhooks")
	ada.step("open the Add webhook form", chromedp.Click(chromedp.ID("add-webhook")), chromedp.WaitVisible(chromedp.ID("wh-name")))
	ada.step("fill in part of it", chromedp.SendKeys(chromedp.ID("wh-name"), "Fraud check"), chromedp.SendKeys(chromedp.ID("wh-url"), crmNew.URL+"/fraud"),
		chromedp.SendKeys(chromedp.ID("wh-authorization"), "Bearer fraud-secret"))
	if err := sys.Auth.RotateKey(); err != nil { // every token and session so far is void
		t.Fatal(err)
	}
	through = newAPI(t, sys)
	ada.step("press Add and land on the sign-in page", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("username")))
	ada.logsIn(user.Name, user.Password)
	ada.step("see the form again", chromedp.WaitVisible(chromedp.ID("wh-name")))
	if got := ada.eval("read the form", `[document.getElementById('wh-name').value, document.getElementById('wh-url').value, document.getElementById('wh-authorization').value].join('|')`); got != "Fraud check|"+crmNew.URL+"/fraud|" {
		t.Fatalf("the form after signing in again: %q", got)
	}
	ada.step("type the authorization again and add", chromedp.SendKeys(chromedp.ID("wh-authorization"), "Bearer fraud-secret"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("signing-secret")),
		chromedp.Click(chromedp.CSS(`dialog[open] button.secondary`)), chromedp.WaitVisible(ada.row("webhooks", "fraud_check")))
	if keys := through.webhookKeys(); !sameKeys(keys, "crm_check", "erasure_fraud", "strict_fraud_model", "fraud_check") {
		t.Fatalf("webhooks after signing in again: %v", keys)
	}

	// A phone-sized screen.
	ada.step("turn to a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(sys.URL+"/admin/#/requests"),
		chromedp.WaitVisible(chromedp.ID("requests")))
	ada.picture("requests-phone")
	ada.step("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("sign-in")))
}

package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser. Without one the test fails under make test
// (which installs it first, or stops with a hint) and skips elsewhere, each
// saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "Chromium is not installed, and the admin console's browser tests need it. Install it (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium), or run make test, which installs it when it can."
	if os.Getenv("PREGATE_MAKE_TEST") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts one headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("lang", "en-GB"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// person is someone at a browser tab: each method is one step they take,
// and a step that fails saves a screenshot of what they saw.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string // http://127.0.0.1:PORT
}

// newPerson opens a tab in a browsing context of its own (own cookies and
// storage: another person at another computer).
func newPerson(t *testing.T, browserCtx context.Context, name, base string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &person{t: t, name: name, ctx: ctx, base: base}
	// The first run opens the tab, which lives as long as the context of
	// that run: the person's own, never a step's deadline.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	return p
}

// step runs actions within a deadline; on failure it saves a screenshot and stops the test.
func (p *person) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.failed(what, err)
	}
}

func (p *person) failed(what string, err error) {
	p.t.Helper()
	shot := p.saveFailure(what)
	p.t.Fatalf("%s: %s: %v\n(screenshot: %s)", p.name, what, err, shot)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// saveFailure writes a screenshot under bin/browser-failures and returns its path.
func (p *person) saveFailure(what string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "none: " + err.Error()
	}
	dir := filepath.Join(repoRoot(p.t), "bin", "browser-failures")
	_ = os.MkdirAll(dir, 0o755)
	name := unsafeName.ReplaceAllString(strings.ToLower(p.t.Name()+"-"+p.name+"-"+what), "-") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return path
}

// picture saves what the person sees as docs/console/<name>.png when
// `make screenshots` runs the tests (PREGATE_SCREENSHOTS=1).
func (p *person) picture(name string) {
	p.t.Helper()
	if os.Getenv("PREGATE_SCREENSHOTS") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	// Let transitions and focus rings settle.
	time.Sleep(150 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.failed("take the picture "+name, err)
	}
	dir := filepath.Join(repoRoot(p.t), "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *person) text(what string, sel chromedp.CSS) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		p.failed(what, err)
	}
	return s
}

func (p *person) eval(what, js string) any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
	if err != nil {
		p.failed(what, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (p *person) waitFor(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if v, _ := p.eval(what, "Boolean("+js+")").(bool); v {
			return
		}
		if time.Now().After(deadline) {
			p.failed(what, fmt.Errorf("still not true: %s", js))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *person) location() string {
	p.t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.failed("read the address bar", err)
	}
	return loc
}

// --- the steps -------------------------------------------------------------

// opensTheConsole goes to /admin/ and lands on the sign-in page.
func (p *person) opensTheConsole() {
	p.t.Helper()
	p.step("open the console and see the sign-in page",
		chromedp.Navigate(p.base+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("username")))
}

// narrowsTheLoginTo edits the sign-in page's address to ask for fewer
// scopes, as an admin with a read-only account would get.
func (p *person) narrowsTheLoginTo(scopes ...string) {
	p.t.Helper()
	u, err := url.Parse(p.location())
	if err != nil {
		p.t.Fatal(err)
	}
	q := u.Query()
	q.Set("scope", strings.Join(scopes, " "))
	u.RawQuery = q.Encode()
	p.step("ask for a read-only token", chromedp.Navigate(u.String()), chromedp.WaitVisible(chromedp.ID("username")))
}

func (p *person) logsIn(user, password string) {
	p.t.Helper()
	p.seesALabelOnEveryInput()
	p.step("type the user name and password",
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password))
	p.picture("login")
	p.step("sign in",
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sign-out")))
}

func (p *person) goesTo(section string) {
	p.t.Helper()
	p.step("go to "+section,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#nav a[href="#/%s"]`, section))),
		chromedp.WaitVisible(chromedp.CSS(`#nav a[aria-current=page][href="#/`+section+`"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`main .state[role=status]`)))
	p.seesALabelOnEveryInput()
}

// seesALabelOnEveryInput: every field on the page and in an open dialog has a label.
func (p *person) seesALabelOnEveryInput() {
	p.t.Helper()
	unlabelled := p.eval("look for fields without a label", `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
	  .filter((e) => !e.labels || e.labels.length === 0).map((e) => e.id || e.name || e.outerHTML).join(', ')`)
	if unlabelled != "" {
		p.t.Errorf("%s: fields without a label: %v", p.name, unlabelled)
	}
}

// addsWebhook fills in the Add webhook form and returns the signing secret
// shown once; with actions, it unticks the kinds of requests not among them.
func (p *person) addsWebhook(name, endpoint, authorization string, actions ...string) string {
	p.t.Helper()
	return p.addsWebhookIn("enforce", name, endpoint, authorization, actions...)
}

// addsWebhookIn adds a webhook in mode ("enforce" or "shadow") that checks
// the kinds of requests actions (all of them when none is given).
func (p *person) addsWebhookIn(mode, name, endpoint, authorization string, actions ...string) string {
	p.t.Helper()
	p.step("open the Add webhook form", chromedp.Click(chromedp.ID("add-webhook")), chromedp.WaitVisible(chromedp.ID("wh-name")))
	p.seesALabelOnEveryInput()
	p.step("fill in the webhook "+name,
		chromedp.SendKeys(chromedp.ID("wh-name"), name),
		chromedp.SendKeys(chromedp.ID("wh-url"), endpoint),
		chromedp.SendKeys(chromedp.ID("wh-authorization"), authorization))
	if mode != "enforce" {
		p.step("choose "+mode+" mode", chromedp.Click(chromedp.ID("wh-mode-"+mode)))
		p.picture("webhook-add-" + mode)
	}
	if len(actions) > 0 {
		for _, a := range []string{"access", "erasure", "update"} {
			if !slices.Contains(actions, a) {
				p.step("untick "+a, chromedp.Click(chromedp.ID("wh-scope-"+a)))
			}
		}
		p.picture("webhook-add-scope")
	}
	p.step("add it", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("signing-secret")))
	secret, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.ID("signing-secret")))
	if err != nil {
		p.failed("read the signing secret", err)
	}
	p.picture("webhook-secret")
	p.step("close the secret", chromedp.Click(chromedp.CSS(`dialog[open] button.secondary`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
	return secret
}

func (p *person) row(table, key string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#%s tr[data-key=%q]`, table, key))
}

// editsWebhookURL changes a webhook's URL, leaving the authorization blank.
func (p *person) editsWebhookURL(name, endpoint string) {
	p.t.Helper()
	p.step("open Edit of "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Edit %s"]`, name))), chromedp.WaitVisible(chromedp.ID("wh-url")))
	p.step("replace the URL", chromedp.Clear(chromedp.ID("wh-url")), chromedp.SendKeys(chromedp.ID("wh-url"), endpoint))
	p.picture("webhook-edit")
	p.step("save", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
}

func (p *person) deletesWebhook(name string) {
	p.t.Helper()
	p.step("press Delete on "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Delete %s"]`, name))), chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	p.seesALabelOnEveryInput()
	p.picture("webhook-delete")
	p.step("confirm", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
}

// filtersRequestsBy picks a status, by the name shown, in the filter.
func (p *person) filtersRequestsBy(label string) {
	p.t.Helper()
	p.eval("pick "+label, fmt.Sprintf(`(() => { const s = document.getElementById('status-filter'); s.focus();
	  const o = [...s.options].find((o) => o.textContent === %q); s.value = o.value; s.dispatchEvent(new Event('change')); return true; })()`, label))
	p.step("see the filtered list", chromedp.WaitVisible(chromedp.CSS(`#status-filter`)), chromedp.WaitNotPresent(chromedp.CSS(`main .state[role=status]`)))
}

func (p *person) opensRequest(id string) {
	p.t.Helper()
	p.step("open request "+id, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q] a`, id))), chromedp.WaitVisible(chromedp.ID("timeline")))
}

func (p *person) approves() {
	p.t.Helper()
	p.step("press Approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	p.step("confirm the approval", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
}

func (p *person) denies(reason string) {
	p.t.Helper()
	p.step("press Deny", chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("deny-reason")))
	p.seesALabelOnEveryInput()
	p.step("give the reason", chromedp.SendKeys(chromedp.ID("deny-reason"), reason))
	p.picture("request-deny")
	p.step("deny", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
}

func (p *person) rerunsPreApproval() {
	p.t.Helper()
	p.step("press Re-run pre-approval", chromedp.Click(chromedp.ID("retry")), chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	p.step("confirm", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
}

// sendsTestCall presses Send test call and waits until the result shows want.
func (p *person) sendsTestCall(name, want string) {
	p.t.Helper()
	p.step("press Send test call on "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Send test call to %s"]`, name))),
		chromedp.WaitVisible(chromedp.ID("test-result")))
	p.waitFor("see the test call "+want, fmt.Sprintf(`(document.querySelector('#test-result .test-status') || {}).textContent === %q`, want))
	p.picture("webhook-test")
	p.step("close the test call", chromedp.Click(chromedp.CSS(`dialog[open] button.secondary`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
}

// promotesWebhook promotes the shadow webhook name (key) to enforce, and
// waits until its row says so.
func (p *person) promotesWebhook(name, key string) {
	p.t.Helper()
	p.step("press Promote to enforce on "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Promote %s to enforce"]`, name))),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	p.step("confirm", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
	p.waitFor("see "+name+" enforce", fmt.Sprintf(`(document.querySelector('#webhooks tr[data-key=%q] td[data-label="Mode"]') || {}).textContent === 'Enforce'`, key))
}

// opensDeliveryLog opens a webhook's delivery log and waits for n attempts.
func (p *person) opensDeliveryLog(name string, n int) {
	p.t.Helper()
	p.step("open the delivery log of "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Delivery log of %s"]`, name))),
		chromedp.WaitVisible(chromedp.ID("deliveries")))
	p.waitFor(fmt.Sprintf("see %d attempts", n), fmt.Sprintf(`document.querySelectorAll('#deliveries tbody tr').length >= %d`, n))
	p.picture("webhook-deliveries")
	p.step("close the delivery log", chromedp.Click(chromedp.CSS(`dialog[open] .buttons button.secondary:last-child`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
}

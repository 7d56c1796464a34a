package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pregate/pregate/internal/console"
	"github.com/pregate/pregate/internal/localauth"
)

// privacyAPI is the test's view through the API with every admin scope.
func privacyAPI(t *testing.T, sysURL string, auth *localauth.Server) *api {
	tok, err := auth.Mint("local-admin", console.AdminScopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, base: sysURL + "/api/v1", token: tok}
}

// submitAs sends a privacy request of an identity under a policy.
func (a *api) submitAs(policy string, identity map[string]string, externalID string) string {
	a.t.Helper()
	item := map[string]any{"identity": identity, "policy_key": policy}
	if externalID != "" {
		item["external_id"] = externalID
	}
	var out struct {
		Succeeded []struct{ ID string } `json:"succeeded"`
	}
	a.call("POST", "/privacy-request", []map[string]any{item}, &out)
	if len(out.Succeeded) != 1 {
		a.t.Fatalf("submit %v: %+v", identity, out)
	}
	return out.Succeeded[0].ID
}

type requestView struct {
	Status   string  `json:"status"`
	DueDate  *string `json:"due_date"`
	DaysLeft *int    `json:"days_left"`
}

func (a *api) request(id string) requestView {
	a.t.Helper()
	var r requestView
	a.call("GET", "/privacy-request/"+id, nil, &r)
	return r
}

// TestPrivacyTeamDay is the privacy team's day in the console: deadlines,
// the Due soon view, search by identity, decisions on several requests at
// once (approve, extend, deny with one reason), all with identities masked.
func TestPrivacyTeamDay(t *testing.T) {
	chromium(t)
	sys := startSystem(t)
	through := privacyAPI(t, sys.URL, sys.Auth)
	browserCtx := browser(t)
	user := sys.Auth.User()

	// Erasure requests must be done in 3 days here; no webhook is
	// configured, so every request waits for an admin (New).
	through.call("PATCH", "/dsr/policy", []map[string]any{{"key": "default_erasure_policy", "execution_timeframe": 3}}, nil)
	emails := []string{"jane.doe@example.com", "omar.said@example.com", "li.wei@example.com", "ana.lima@example.com"}
	var ids []string
	for _, e := range emails {
		ids = append(ids, through.submitAs("default_access_policy", map[string]string{"email": e}, ""))
	}
	urgent := through.submitAs("default_erasure_policy", map[string]string{"phone_number": "+15555550123"}, "crm-778812")
	maria := through.submitAs("default_access_policy", map[string]string{"email": "maria.garcia@example.com", "phone_number": "+447700900123"}, "")
	// An erasure already decided: due as soon as the urgent one, but no
	// longer waiting for anyone, so not in the Due soon view.
	settled := through.submitAs("default_erasure_policy", map[string]string{"email": "settled@example.com"}, "")
	for _, id := range append(ids, urgent, maria, settled) {
		through.waitForStatus(id, "pending")
	}
	through.call("PATCH", "/privacy-request/administrate/deny", map[string]any{"request_ids": []string{settled}, "reason": "a duplicate"}, nil)
	everyone := append([]string{"+15555550123", "crm-778812", "maria.garcia@example.com", "+447700900123", "settled@example.com"}, emails...)

	ada := newPerson(t, browserCtx, "privacy admin", sys.URL)
	ada.opensTheConsole()
	ada.logsIn(user.Name, user.Password)
	ada.goesTo("requests")
	ada.step("see every request", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, urgent))))

	// Days left: 29 for a 30-day policy just submitted; 2 and amber for the urgent one.
	if got := ada.text("read the days left of a new request", ada.daysLeftOf(ids[0])); got != "29 days" {
		t.Errorf("days left of a new request: %q, want 29 days", got)
	}
	if got := ada.text("read the days left of the urgent request", ada.daysLeftOf(urgent)); got != "2 days, due soon" {
		t.Errorf("days left of the urgent request: %q", got)
	}
	if cls := ada.eval("read the urgent request's colour", fmt.Sprintf(`document.querySelector('#requests tr[data-id=%q] .days').className`, urgent)); !strings.Contains(cls.(string), "soon") {
		t.Errorf("the urgent request's days left is not flagged: class %q", cls)
	}
	ada.seesOverdueInRed()
	ada.seesNoIdentityInClear(everyone...)
	if got := ada.text("read the urgent request's masked identity", chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q] td[data-label="Identity"]`, urgent))); got != "+•••••••0123 · cr••••••••" {
		t.Errorf("masked phone and external id: %q", got)
	}
	if got := ada.text("read a masked email", chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q] td[data-label="Identity"]`, ids[0]))); got != "j•••@example.com" {
		t.Errorf("masked email: %q", got)
	}

	// Due soon: the urgent request only, not the one decided.
	ada.step("open the Due soon view", chromedp.Click(chromedp.ID("view-due")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, urgent))))
	if n := ada.eval("count the requests due soon", `document.querySelectorAll('#requests tbody tr').length`); n != float64(1) {
		t.Fatalf("%v requests due soon, want 1", n)
	}
	ada.picture("requests-due-soon")
	ada.step("back to all requests", chromedp.Click(chromedp.ID("view-all")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, ids[0]))))

	// Search by email, in another case than submitted.
	ada.searchesFor("Omar.Said@example.com")
	ada.step("see Omar's request only", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, ids[1]))))
	if n := ada.eval("count the requests found", `document.querySelectorAll('#requests tbody tr').length`); n != float64(1) {
		t.Fatalf("the search found %v requests, want 1", n)
	}
	ada.seesNoIdentityInClear(everyone...)
	ada.picture("requests-search")
	ada.step("clear the search", chromedp.Click(chromedp.ID("clear-search")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q]`, ids[0]))))

	// Bulk approve 3 requests.
	ada.selects(ids[0], ids[1], ids[2])
	ada.picture("requests-selected")
	ada.step("press Approve", chromedp.Click(chromedp.ID("bulk-approve")), chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	ada.step("confirm", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-outcome")))
	if n := ada.eval("count the approved", `document.querySelectorAll('#bulk-outcome li[data-outcome="ok"]').length`); n != float64(3) {
		t.Fatalf("%v requests shown approved, want 3", n)
	}
	for _, id := range ids[:3] {
		if got := through.status(id); got != "approved" {
			t.Errorf("request %s is %s after the bulk approval", id, got)
		}
	}
	if got := through.status(ids[3]); got != "pending" {
		t.Errorf("an unselected request is %s", got)
	}

	// Extend two deadlines, then again one of them with another: that one
	// fails (once per request), shown apart.
	ada.selects(ids[3], urgent)
	ada.extends(10, "Identity documents requested from the subject")
	if r := through.request(urgent); r.DaysLeft == nil || *r.DaysLeft != 12 {
		t.Fatalf("the urgent request after a 10-day extension: %v days left", derefInt(r.DaysLeft))
	}
	ada.selects(urgent, ids[0])
	ada.extends(5, "Waiting for the legal team")
	ada.step("see one extended, one refused",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#bulk-outcome li[data-outcome="ok"][data-id=%q]`, ids[0]))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#bulk-outcome li[data-outcome="failed"][data-id=%q]`, urgent))))
	if got := ada.text("read the refusal", chromedp.CSS(fmt.Sprintf(`#bulk-outcome li[data-id=%q] strong`, urgent))); got != "Deadline already extended" {
		t.Errorf("the refusal shown: %q", got)
	}
	ada.picture("requests-outcome")
	if r := through.request(urgent); r.DaysLeft == nil || *r.DaysLeft != 12 {
		t.Errorf("the urgent request moved again: %v days left", derefInt(r.DaysLeft))
	}

	// Deny two requests with one reason for both.
	ada.selects(ids[3], urgent)
	ada.step("press Deny", chromedp.Click(chromedp.ID("bulk-deny")), chromedp.WaitVisible(chromedp.ID("deny-reason")))
	ada.step("give one reason and deny", chromedp.SendKeys(chromedp.ID("deny-reason"), "Duplicate of an earlier request"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-outcome")))
	if n := ada.eval("count the denied", `document.querySelectorAll('#bulk-outcome li[data-outcome="ok"]').length`); n != float64(2) {
		t.Errorf("%v requests shown denied, want 2", n)
	}
	for _, id := range []string{ids[3], urgent} {
		var timeline struct {
			Items []struct{ Action, Message string } `json:"items"`
		}
		through.call("GET", "/privacy-request/"+id+"/activity", nil, &timeline)
		last := timeline.Items[len(timeline.Items)-1]
		if got := through.status(id); got != "denied" || last.Action != "denied" || last.Message != "Duplicate of an earlier request" {
			t.Errorf("request %s after the bulk denial: %s, last entry %+v", id, got, last)
		}
	}

	// Maria's request: masked until revealed, each reveal in the access log.
	ada.opensRequest(maria)
	if got := ada.text("read the days left", chromedp.CSS(`#main dd .days`)); got != "29 days" {
		t.Errorf("days left on the request's page: %q", got)
	}
	ada.seesNoIdentityInClear("maria.garcia@example.com", "+447700900123")
	if got := ada.text("read the masked identity", chromedp.CSS("#identity")); !strings.Contains(got, "m•••@example.com") || !strings.Contains(got, "+••••••••0123") {
		t.Errorf("the masked identity: %q", got)
	}
	ada.reveals()
	page := ada.eval("read the page", `document.body.innerText`).(string)
	if !strings.Contains(page, "maria.garcia@example.com") || !strings.Contains(page, "+447700900123") {
		t.Errorf("after Reveal the page does not show the identity: %q", page)
	}
	ada.picture("request-revealed")
	if got := through.accessEntries(maria, "reveal"); len(got) != 1 || got[0] != user.Name {
		t.Fatalf("access log after one reveal: actors %v, want [%s]", got, user.Name)
	}
	ada.step("hide it", chromedp.Click(chromedp.ID("reveal")), chromedp.WaitNotPresent(chromedp.CSS(`#identity.revealed`)))
	ada.seesNoIdentityInClear("maria.garcia@example.com", "+447700900123")
	ada.reveals()
	if got := through.accessEntries(maria, "reveal"); len(got) != 2 {
		t.Fatalf("access log after two reveals: %d entries, want 2", len(got))
	}

	// Extend its deadline from its page; download its evidence.
	ada.step("press Extend deadline", chromedp.Click(chromedp.ID("extend")), chromedp.WaitVisible(chromedp.ID("extend-days")))
	ada.seesALabelOnEveryInput()
	ada.step("give the days and the reason", chromedp.SendKeys(chromedp.ID("extend-days"), "30"), chromedp.SendKeys(chromedp.ID("extend-reason"), "Subject asked for more time"))
	ada.picture("request-extend")
	ada.step("extend", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-action="deadline_extended"]`)), chromedp.WaitNotPresent(chromedp.ID("extend")))
	if got := ada.text("read the days left", chromedp.CSS(`#main dd .days`)); got != "59 days" {
		t.Errorf("days left after a 30-day extension: %q", got)
	}
	if got := ada.text("read the extension on the timeline", chromedp.CSS(`#timeline li[data-action="deadline_extended"]`)); !strings.Contains(got, "Deadline extended by 30 days: Subject asked for more time") || !strings.Contains(got, "by "+user.Name) {
		t.Errorf("the extension on the timeline: %q", got)
	}
	ada.seesNoIdentityInClear("maria.garcia@example.com", "+447700900123")
	ada.picture("request-deadline")
	evidence := ada.savesDownloads()
	ada.step("download the evidence", chromedp.Click(chromedp.ID("evidence")))
	var doc struct {
		Request struct {
			ID string `json:"id"`
		} `json:"request"`
		AdminActions []struct {
			Action string `json:"action"`
			Actor  string `json:"actor"`
		} `json:"admin_actions"`
	}
	if err := json.Unmarshal([]byte(evidence.file(t)), &doc); err != nil || doc.Request.ID != maria || len(doc.AdminActions) != 1 || doc.AdminActions[0].Actor != user.Name {
		t.Errorf("the evidence downloaded: %+v (%v)", doc, err)
	}
	if got := through.accessEntries(maria, "evidence"); len(got) != 1 {
		t.Errorf("access log after one evidence download: %d entries, want 1", len(got))
	}

	// Export today's requests; its pages made small, so that the console
	// follows the cursor from page to page.
	downloads := ada.savesDownloads()
	fetches := ada.shrinksExportPages(2)
	ada.goesTo("requests")
	ada.step("open Export CSV", chromedp.Click(chromedp.ID("export")), chromedp.WaitVisible(chromedp.ID("export-from")))
	ada.seesALabelOnEveryInput()
	ada.picture("requests-export")
	ada.step("export", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
	csv := downloads.file(t)
	lines := strings.Split(strings.TrimSuffix(csv, "\n"), "\n")
	if lines[0] != "id,status,policy_key,created_at,due_date,decided_at,decided_by,webhooks" || strings.Count(csv, "id,status,") != 1 {
		t.Fatalf("the export's header: %q", csv)
	}
	if len(lines) != 1+len(ids)+3 {
		t.Fatalf("the export has %d rows, want %d:\n%s", len(lines)-1, len(ids)+3, csv)
	}
	for _, id := range append(ids, urgent, maria) {
		if !strings.Contains(csv, id+",") {
			t.Errorf("the export lacks %s", id)
		}
	}
	if n := fetches.Load(); n < 3 || int(n) != len(through.accessEntries("", "export")) {
		t.Errorf("the console fetched %d export pages; the access log has %d export entries", n, len(through.accessEntries("", "export")))
	}

	// The access log: each reveal, the evidence and every export page, by Ada.
	ada.goesTo("access")
	ada.step("see the reveals", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#access tr[data-action="reveal"][data-id=%q]`, maria))))
	for action, want := range map[string]int{"reveal": 2, "evidence": 1, "export": int(fetches.Load())} {
		if n := ada.eval("count the "+action+" entries", fmt.Sprintf(`document.querySelectorAll('#access tr[data-action=%q]').length`, action)); n != float64(want) {
			t.Errorf("%v %s entries in the access log page, want %d", n, action, want)
		}
	}
	ada.picture("access-log")

	// Erasure requests get 45 days from now on; those already made keep theirs.
	ada.goesTo("policies")
	ada.step("press Edit on the erasure policy", chromedp.Click(chromedp.CSS(`button[aria-label="Edit the timeframe of Default Erasure Policy"]`)),
		chromedp.WaitVisible(chromedp.ID("policy-days")))
	ada.seesALabelOnEveryInput()
	ada.step("type 45 days", chromedp.SetValue(chromedp.ID("policy-days"), ""), chromedp.SendKeys(chromedp.ID("policy-days"), "45"))
	ada.picture("policy-edit")
	ada.step("save", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)))
	if got := ada.text("read the new timeframe", chromedp.CSS(`#policies tr[data-key="default_erasure_policy"] td.timeframe`)); got != "45 days" {
		t.Errorf("the erasure policy's timeframe shown: %q", got)
	}
	ada.picture("policies")
	later := through.submitAs("default_erasure_policy", map[string]string{"email": "late.comer@example.com"}, "")
	if r := through.request(later); r.DaysLeft == nil || *r.DaysLeft != 44 {
		t.Errorf("an erasure request submitted after the change: %v days left, want 44", derefInt(r.DaysLeft))
	}
	if r := through.request(urgent); r.DaysLeft == nil || *r.DaysLeft != 12 {
		t.Errorf("an erasure request submitted before the change: %v days left, want 12", derefInt(r.DaysLeft))
	}
}

func (p *person) daysLeftOf(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#requests tr[data-id=%q] td[data-label="Days left"]`, id))
}

// seesOverdueInRed: an overdue request's days left is red and says so in words.
func (p *person) seesOverdueInRed() {
	p.t.Helper()
	got := p.await("render an overdue request's days left", `(async () => {
	  const ui = await import(document.querySelector('script[type=module]').src.replace('main.js', 'ui.js'));
	  const el = ui.daysLeft({status: 'pending', days_left: -2, due_date: new Date(Date.now() - 2 * 86400000).toISOString()});
	  return el.className + '|' + el.textContent + '|' + el.title.startsWith('Overdue');
	})()`)
	if got != "badge days overdue|Overdue by 2 days|true" {
		p.t.Errorf("an overdue request's days left: %q", got)
	}
}

// reveals presses Reveal and waits for the identity in clear.
func (p *person) reveals() {
	p.t.Helper()
	p.step("press Reveal", chromedp.Click(chromedp.ID("reveal")), chromedp.WaitVisible(chromedp.CSS(`#identity.revealed`)))
}

// accessEntries are the actors of a request's access-log entries of one
// action (id "": the entries of no request).
func (a *api) accessEntries(id, action string) []string {
	a.t.Helper()
	var page struct {
		Items []struct {
			Actor, Action    string
			PrivacyRequestID *string `json:"privacy_request_id"`
		} `json:"items"`
	}
	a.call("GET", "/audit/access?size=100", nil, &page)
	var actors []string
	for _, e := range page.Items {
		if e.Action == action && (e.PrivacyRequestID == nil && id == "" || e.PrivacyRequestID != nil && *e.PrivacyRequestID == id) {
			actors = append(actors, e.Actor)
		}
	}
	return actors
}

// downloadDir is where a person's browser saves what they download.
type downloadDir string

// savesDownloads makes the person's browser save downloads into a folder of the test's.
func (p *person) savesDownloads() downloadDir {
	p.t.Helper()
	dir := p.t.TempDir()
	_, err := chromedp.CallBrowser(p.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID})
	if err != nil {
		p.failed("allow downloads", err)
	}
	return downloadDir(dir)
}

// file waits for the one file downloaded and returns its content.
func (d downloadDir) file(t *testing.T) string {
	t.Helper()
	var body []byte
	waitFor(t, "a downloaded file", func() bool {
		entries, _ := os.ReadDir(string(d))
		if len(entries) != 1 || strings.HasSuffix(entries[0].Name(), ".crdownload") {
			return false
		}
		body, _ = os.ReadFile(filepath.Join(string(d), entries[0].Name()))
		return len(body) > 0
	})
	return string(body)
}

// shrinksExportPages makes the console's export calls ask for pages of
// size rows (it asks for 1,000) and counts them.
func (p *person) shrinksExportPages(size int) *atomic.Int32 {
	p.t.Helper()
	var n atomic.Int32
	paused := chromedp.Events(p.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/privacy-request/export?*"}}}); err != nil {
		p.failed("watch the export calls", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			n.Add(1)
			to := strings.Replace(ev.Request.URL, "size=1000", fmt.Sprintf("size=%d", size), 1)
			_, _ = chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID, URL: to})
		}
	}()
	return &n
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("still not so: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// await evaluates JavaScript whose value is a promise, and waits for it.
func (p *person) await(what, js string) any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.failed(what, err)
	}
	return v
}

// seesNoIdentityInClear: neither the page's text nor its HTML holds any of the identities.
func (p *person) seesNoIdentityInClear(identities ...string) {
	p.t.Helper()
	page, _ := p.eval("read the page", `document.body.innerText + '\n' + document.documentElement.outerHTML`).(string)
	for _, id := range identities {
		if strings.Contains(strings.ToLower(page), strings.ToLower(id)) {
			p.t.Errorf("%s: %q is in clear on the page", p.name, id)
		}
	}
}

func (p *person) searchesFor(identity string) {
	p.t.Helper()
	p.step("search for "+identity, chromedp.SendKeys(chromedp.ID("search"), identity+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("clear-search")), chromedp.WaitNotPresent(chromedp.CSS(`main .state[role=status]`)))
}

func (p *person) selects(ids ...string) {
	p.t.Helper()
	for _, id := range ids {
		p.step("select "+id, chromedp.Click(chromedp.ID("pick-"+id)))
	}
	p.step(fmt.Sprintf("see %d selected", len(ids)), chromedp.WaitVisible(chromedp.CSS(`.bulk .chosen`)))
	if got := p.text("read the selection", chromedp.CSS(`.bulk .chosen`)); got != fmt.Sprintf("%d selected", len(ids)) {
		p.t.Fatalf("%s: selection %q after selecting %d", p.name, got, len(ids))
	}
}

func (p *person) extends(days int, reason string) {
	p.t.Helper()
	p.step("press Extend deadline", chromedp.Click(chromedp.ID("bulk-extend")), chromedp.WaitVisible(chromedp.ID("extend-days")))
	p.seesALabelOnEveryInput()
	p.step("give the days and the reason", chromedp.SendKeys(chromedp.ID("extend-days"), fmt.Sprint(days)), chromedp.SendKeys(chromedp.ID("extend-reason"), reason))
	p.picture("requests-extend")
	p.step("extend", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-outcome")))
}

func derefInt(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

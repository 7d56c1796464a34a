package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAPIReferenceTriesARequest: a reader opens the API reference (Swagger
// UI under the page's CSP, which allows no inline script), authorizes with
// the local root client through the token endpoint, and tries GET
// /connection from the page: the answer shown is 200.
func TestAPIReferenceTriesARequest(t *testing.T) {
	ctx := browser(t)
	sys := startSystem(t)
	p := newPerson(t, ctx, "reader", sys.URL)
	p.step("open the reference", chromedp.Navigate(sys.URL+"/api/v1/docs"))
	p.waitFor("see every operation", `document.querySelectorAll(".opblock").length >= 20`)
	p.step("authorize with the root client",
		chromedp.Click(chromedp.CSS(`.btn.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`input[id^="client_id"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[id^="client_id"]`), "local-admin"),
		chromedp.SendKeys(chromedp.CSS(`input[id^="client_secret"]`), "local-admin-secret"),
		chromedp.Click(chromedp.CSS(`.auth-container .btn.modal-btn.authorize`)),
	)
	p.waitFor("see the token granted", `[...document.querySelectorAll(".auth-container h6")].some(h => h.textContent === "Authorized")`)
	p.step("close the dialog", chromedp.Click(chromedp.CSS(`.modal-ux .close-modal`)))
	p.step("try GET /connection",
		chromedp.Click(chromedp.CSS(`#operations-Connections-listConnections .opblock-summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#operations-Connections-listConnections .execute`)),
		chromedp.Click(chromedp.CSS(`#operations-Connections-listConnections .execute`)),
		chromedp.WaitVisible(chromedp.CSS(`#operations-Connections-listConnections .live-responses-table tr.response .response-col_status`)),
	)
	status := p.text("read the answer", chromedp.CSS(`#operations-Connections-listConnections .live-responses-table tr.response .response-col_status`))
	if !strings.HasPrefix(strings.TrimSpace(status), "200") {
		t.Fatalf("GET /connection from the reference answered %q", status)
	}
}

package local_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
)

type policyOut struct {
	Key                string `json:"key"`
	Name               string `json:"name"`
	Action             string `json:"action"`
	ExecutionTimeframe *int   `json:"execution_timeframe"`
}

func (c *client) policies() map[string]policyOut {
	c.t.Helper()
	var page struct {
		Items []policyOut `json:"items"`
		Total int         `json:"total"`
	}
	c.must(200, "GET", "/dsr/policy", nil, &page)
	out := map[string]policyOut{}
	for _, p := range page.Items {
		out[p.Key] = p
	}
	if page.Total != 4 || len(out) != 4 {
		c.t.Fatalf("policies: %+v", page)
	}
	return out
}

// submitFor submits one request of policy key with no webhook configured
// and returns it as the API answered.
func (c *client) submitFor(key string) deadlineOut {
	c.t.Helper()
	var sub bulkOut
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": unique("tf") + "@example.com"}, "policy_key": key}}, &sub)
	if len(sub.Succeeded) != 1 {
		c.t.Fatalf("submit: %+v", sub)
	}
	return sub.Succeeded[0]
}

// request reads request id back.
func (c *client) request(id string) deadlineOut {
	c.t.Helper()
	var page struct {
		Items []deadlineOut `json:"items"`
	}
	c.must(200, "GET", "/privacy-request?request_id="+id, nil, &page)
	if len(page.Items) != 1 {
		c.t.Fatalf("request %s: %+v", id, page)
	}
	return page.Items[0]
}

// TestPolicyTimeframes: 30 days by default; a PATCH sets a timeframe or
// none, and fails a bad item alone, changing nothing for it. A whole number
// may be written 45.0 (JSON has one number type); 7.5 is not one. A request
// keeps the due date it was submitted with; later ones take the new
// timeframe, or none.
func TestPolicyTimeframes(t *testing.T) {
	c := admin(t)
	for k, p := range c.policies() {
		if p.ExecutionTimeframe == nil || *p.ExecutionTimeframe != 30 || p.Name == "" || p.Action == "" {
			t.Errorf("%s: %+v, want 30 days", k, p)
		}
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	before := c.submitFor("default_access_policy")
	t.Cleanup(func() {
		c.must(200, "PATCH", "/dsr/policy", []map[string]any{{"key": "default_access_policy", "execution_timeframe": 30},
			{"key": "default_erasure_policy", "execution_timeframe": 30}}, nil)
	})
	var res struct {
		Succeeded []policyOut `json:"succeeded"`
		Failed    []struct {
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		} `json:"failed"`
	}
	c.must(200, "PATCH", "/dsr/policy", `[{"key": "default_access_policy", "execution_timeframe": 45.0},
		{"key": "default_erasure_policy", "execution_timeframe": null},
		{"key": "default_consent_policy", "execution_timeframe": 0},
		{"key": "default_consent_policy", "execution_timeframe": 7.5},
		{"key": "default_consent_policy", "execution_timeframe": 366},
		{"key": "default_consent_policy", "execution_timeframe": "7"},
		{"key": "default_update_policy"},
		{"key": "no_such_policy", "execution_timeframe": 10}]`, &res)
	if len(res.Succeeded) != 2 || len(res.Failed) != 6 {
		t.Fatalf("succeeded %+v failed %+v", res.Succeeded, res.Failed)
	}
	got := c.policies()
	if p := got["default_access_policy"]; p.ExecutionTimeframe == nil || *p.ExecutionTimeframe != 45 {
		t.Errorf("access: %+v", p)
	}
	if p := got["default_erasure_policy"]; p.ExecutionTimeframe != nil {
		t.Errorf("erasure: %+v, want none", p)
	}
	for _, k := range []string{"default_consent_policy", "default_update_policy"} {
		if p := got[k]; p.ExecutionTimeframe == nil || *p.ExecutionTimeframe != 30 {
			t.Errorf("%s changed by a failed item: %+v", k, p)
		}
	}
	if status, _ := c.do("PATCH", "/dsr/policy", []any{}); status != 422 {
		t.Errorf("empty body: %d, want 422", status)
	}

	if got := c.request(before.ID); got.DueDate == nil || *got.DueDate != *before.DueDate || *got.DaysLeft != 29 {
		t.Errorf("a request submitted before the change: due %v, %v days left, want its own %s, 29", got.DueDate, got.DaysLeft, *before.DueDate)
	}
	if after := c.submitFor("default_access_policy"); after.DaysLeft == nil || *after.DaysLeft != 44 {
		t.Errorf("a request submitted with 45 days: %+v, want 44 days left", after)
	}
	none := c.submitFor("default_erasure_policy")
	if none.DueDate != nil || none.DaysLeft != nil {
		t.Errorf("a request of a policy without timeframe: due %v, %v days left, want null", none.DueDate, none.DaysLeft)
	}
	var ext bulkOut
	c.must(200, "PATCH", "/privacy-request/administrate/extend", map[string]any{"request_ids": []string{none.ID}, "days": 5, "reason": "late"}, &ext)
	if len(ext.Failed) != 1 || ext.Failed[0].Message != "Request has no deadline" {
		t.Errorf("extension of a request without a due date: %+v", ext)
	}
}

// TestDailyDigestNamesOpenRequestsDueSoon plays the daily digest's schedule
// with the input template.yaml gives it: the admins get one notification
// naming the open request due within 7 days and not the denied one, with
// the console's Due soon link, while the due-date listing keeps every
// status.
func TestDailyDigestNamesOpenRequestsDueSoon(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	c.must(200, "PATCH", "/dsr/policy", []map[string]any{{"key": "default_update_policy", "execution_timeframe": 1}}, nil)
	t.Cleanup(func() {
		c.must(200, "PATCH", "/dsr/policy", []map[string]any{{"key": "default_update_policy", "execution_timeframe": 30}}, nil)
	})
	open, denied := c.submitFor("default_update_policy"), c.submitFor("default_update_policy")
	c.must(200, "PATCH", "/privacy-request/administrate/deny", map[string]any{"request_ids": []string{denied.ID}, "reason": "no"}, nil)

	var page struct {
		Items []deadlineOut `json:"items"`
	}
	soon := url.QueryEscape(time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339))
	c.must(200, "GET", "/privacy-request?size=100&due_before="+soon, nil, &page)
	listed := map[string]string{}
	for _, r := range page.Items {
		listed[r.ID] = r.Status
	}
	if listed[open.ID] != "pending" || listed[denied.ID] != "denied" {
		t.Errorf("due within 7 days, every status: %v, want %s pending and %s denied", listed, open.ID, denied.ID)
	}
	for _, set := range []struct{ open, in, out string }{{"true", open.ID, denied.ID}, {"false", denied.ID, open.ID}} {
		c.must(200, "GET", "/privacy-request?size=100&open="+set.open+"&due_before="+soon, nil, &page)
		ids := map[string]bool{}
		for _, r := range page.Items {
			ids[r.ID] = true
		}
		if !ids[set.in] || ids[set.out] {
			t.Errorf("due within 7 days, open=%s: %d listed, want %s and not %s", set.open, len(ids), set.in, set.out)
		}
	}
	for _, bad := range []string{"open=yes&due_before=" + soon, "open=true", "open="} {
		if status, _ := c.do("GET", "/privacy-request?"+bad, nil); status != 422 {
			t.Errorf("%s: %d, want 422", bad, status)
		}
	}

	// Both were announced when submitted; the digest comes after, so the
	// list, newest first, puts it before them.
	announced := func(items []notificationOut) (at map[string]int) {
		at = map[string]int{}
		for i, n := range items {
			if n.Kind == "needs_review" && (n.PrivacyRequestID == open.ID || n.PrivacyRequestID == denied.ID) {
				at[n.PrivacyRequestID] = i
			}
		}
		return at
	}
	waitUntil(t, 30*time.Second, func() bool {
		items, err := notifications(c.sys)
		return err == nil && len(announced(items)) == 2
	})
	start := time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.sys.RunDailyDigest(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := notifications(c.sys)
	if err != nil {
		t.Fatal(err)
	}
	var digests []notificationOut
	for i, n := range items {
		if at, _ := time.Parse(time.RFC3339Nano, n.At); n.Kind == "daily_digest" && !at.Before(start.Truncate(time.Second)) {
			digests = append(digests, n)
			for id, j := range announced(items) {
				if j < i {
					t.Errorf("the notifications are not newest first: %s's announcement at %d, the digest after it at %d", id, j, i)
				}
			}
		}
	}
	if len(digests) != 1 {
		t.Fatalf("%d digests since %s, want 1: %+v", len(digests), start, items)
	}
	d := digests[0]
	if !strings.Contains(d.Message, open.ID) || strings.Contains(d.Message, denied.ID) || d.PrivacyRequestID != "" ||
		!strings.Contains(d.Message, c.sys.URL+"/admin/#/requests?view=due") {
		t.Errorf("digest names %s and not %s, links the Due soon view: %+v", open.ID, denied.ID, d)
	}
}

type notificationOut struct {
	At               string `json:"at"`
	Kind             string `json:"kind"`
	Subject          string `json:"subject"`
	Message          string `json:"message"`
	PrivacyRequestID string `json:"privacy_request_id"`
}

func notifications(sys *local.System) ([]notificationOut, error) {
	resp, err := http.Get(sys.URL + "/api/v1/local/notifications")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Items []notificationOut `json:"items"`
	}
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("local notifications: %d %s", resp.StatusCode, raw)
	}
	return body.Items, json.NewDecoder(resp.Body).Decode(&body)
}

// TestRequestThatNeedsReviewNotifiesTheAdmins: a request that goes straight
// to pending (no webhook configured) is announced on the notification
// topic, by id and console link.
func TestRequestThatNeedsReviewNotifiesTheAdmins(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	var sub struct {
		Succeeded []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"succeeded"`
	}
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": "needs.review@example.com", "phone_number": "+15551230001"},
		"policy_key": "default_access_policy", "external_id": "ext-needs-review"}}, &sub)
	if len(sub.Succeeded) != 1 || sub.Succeeded[0].Status != "pending" {
		t.Fatalf("submit: %+v", sub)
	}
	id := sub.Succeeded[0].ID
	deadline := time.Now().Add(30 * time.Second)
	for {
		items, err := notifications(c.sys)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range items {
			if n.PrivacyRequestID != id {
				continue
			}
			if n.Kind != "needs_review" || !strings.Contains(n.Message, c.sys.URL+"/admin/#/requests/"+id) || n.At == "" {
				t.Errorf("notification: %+v", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification for %s in 30 s: %+v", id, items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkNotificationsNameNoIdentity reads every notification the shared
// system published and every request it holds, and reports any
// notification that carries a request's email, phone number or external id.
func checkNotificationsNameNoIdentity(sys *local.System) error {
	items, err := notifications(sys)
	if err != nil {
		return err
	}
	resp, err := http.PostForm(sys.URL+"/api/v1/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"local-admin"}, "client_secret": {"local-admin-secret"}})
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var identities []string
	for cursor := ""; ; {
		req, _ := http.NewRequest("GET", sys.URL+"/api/v1/privacy-request?size=100&cursor="+url.QueryEscape(cursor), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var page struct {
			Items []struct {
				Identity struct {
					Email       *string `json:"email"`
					PhoneNumber *string `json:"phone_number"`
				} `json:"identity"`
				ExternalID *string `json:"external_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			for _, v := range []*string{r.Identity.Email, r.Identity.PhoneNumber, r.ExternalID} {
				if v != nil && *v != "" {
					identities = append(identities, strings.ToLower(*v))
				}
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if err := namesAnIdentity(items, identities); err != nil {
		return err
	}
	fmt.Printf("checked %d notifications against %d identities: none named\n", len(items), len(identities))
	return nil
}

// namesAnIdentity reports the first notification whose subject or message
// holds one of identities (lower case), without case.
func namesAnIdentity(items []notificationOut, identities []string) error {
	for _, n := range items {
		text := strings.ToLower(n.Subject + "\n" + n.Message)
		for _, v := range identities {
			if strings.Contains(text, v) {
				return fmt.Errorf("notification %s of %s names the identity %q", n.Kind, n.PrivacyRequestID, v)
			}
		}
	}
	return nil
}

// TestNotificationCheckFindsAnIdentity: the check run on every notification
// after the tests does catch an email (in any case), a phone number or an
// external id in a subject or a message.
func TestNotificationCheckFindsAnIdentity(t *testing.T) {
	identities := []string{"jane.doe@example.com", "+15551230001", "crm-42"}
	clean := notificationOut{Kind: "needs_review", Subject: "Privacy request needs review", Message: "Privacy request pri_1 is pending."}
	if err := namesAnIdentity([]notificationOut{clean}, identities); err != nil {
		t.Errorf("a clean notification: %v", err)
	}
	for _, bad := range []notificationOut{
		{Subject: "Request of Jane.Doe@Example.com"},
		{Message: "call +15551230001"},
		{Message: "customer CRM-42"},
	} {
		if namesAnIdentity([]notificationOut{clean, bad}, identities) == nil {
			t.Errorf("%+v passed the check", bad)
		}
	}
}

type deadlineOut struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	DueDate    *string `json:"due_date"`
	DaysLeft   *int    `json:"days_left"`
	ExternalID *string `json:"external_id"`
}

type bulkOut struct {
	Succeeded []deadlineOut `json:"succeeded"`
	Failed    []struct {
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"failed"`
}

// TestDeadlinesSearchAndAuditRoutes: a request gets its policy's due date;
// the due-date listing, the one extension, search by identity, reveal,
// evidence and export answer as documented, bad input is 422 and changes
// nothing, and each reveal, evidence download and export page writes one
// access-log entry with the actor.
func TestDeadlinesSearchAndAuditRoutes(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	start := time.Now().UTC().Format(time.RFC3339Nano)
	tag := unique("dl")
	var sub bulkOut
	var items []map[string]any
	for i := range 7 {
		items = append(items, map[string]any{"identity": map[string]string{"email": fmt.Sprintf("%s.%d@Example.com", tag, i), "phone_number": fmt.Sprintf("+1555%07d", time.Now().UnixNano()%10000000)},
			"policy_key": "default_access_policy", "external_id": fmt.Sprintf("%s-ext-%d", tag, i)})
	}
	c.must(200, "POST", "/privacy-request", items, &sub)
	if len(sub.Succeeded) != 7 {
		t.Fatalf("submit: %+v", sub)
	}
	first := sub.Succeeded[0]
	if first.DueDate == nil || first.DaysLeft == nil || *first.DaysLeft != 29 {
		t.Fatalf("a request just submitted with 30 days: %+v", first)
	}
	due, _ := time.Parse(time.RFC3339Nano, *first.DueDate)

	// Due before: strictly before, every status, soonest first.
	var page struct {
		Items      []deadlineOut `json:"items"`
		NextCursor *string       `json:"next_cursor"`
	}
	c.must(200, "GET", "/privacy-request?size=100&due_before="+url.QueryEscape(due.Add(time.Second).Format(time.RFC3339)), nil, &page)
	found := false
	for i, r := range page.Items {
		found = found || r.ID == first.ID
		if i > 0 && *r.DueDate < *page.Items[i-1].DueDate {
			t.Errorf("due listing out of order at %d", i)
		}
	}
	if !found {
		t.Errorf("%s (due %s) not listed due before a second later", first.ID, *first.DueDate)
	}
	c.must(200, "GET", "/privacy-request?due_before="+url.QueryEscape(due.Format(time.RFC3339Nano)), nil, &page)
	for _, r := range page.Items {
		if r.ID == first.ID {
			t.Errorf("%s listed due strictly before its own due date", first.ID)
		}
	}

	// Extension: once; bad input is 422 and changes nothing.
	for _, bad := range []map[string]any{
		{"request_ids": []string{first.ID}, "days": 0, "reason": "x"},
		{"request_ids": []string{first.ID}, "days": 91, "reason": "x"},
		{"request_ids": []string{first.ID}, "days": 10},
		{"request_ids": []string{first.ID}, "days": 10, "reason": strings.Repeat("r", 501)},
		{"request_ids": []string{first.ID}, "days": 1.5, "reason": "x"},
	} {
		if status, raw := c.do("PATCH", "/privacy-request/administrate/extend", bad); status != 422 {
			t.Errorf("extend %v: %d %s, want 422", bad, status, raw)
		}
	}
	var ext bulkOut
	c.must(200, "PATCH", "/privacy-request/administrate/extend", `{"request_ids": ["`+first.ID+`", "pri_00000000-0000-4000-8000-000000000000"], "days": 1.0, "reason": "complex request"}`, &ext)
	if len(ext.Succeeded) != 1 || *ext.Succeeded[0].DaysLeft != 30 || len(ext.Failed) != 1 ||
		ext.Failed[0].Message != "No privacy request found with id 'pri_00000000-0000-4000-8000-000000000000'" {
		t.Fatalf("extend: %+v", ext)
	}
	c.must(200, "PATCH", "/privacy-request/administrate/extend", map[string]any{"request_ids": []string{first.ID}, "days": 5, "reason": "again"}, &ext)
	if len(ext.Failed) != 1 || ext.Failed[0].Message != "Deadline already extended" {
		t.Errorf("second extension: %+v", ext)
	}
	denied := sub.Succeeded[1].ID
	c.must(200, "PATCH", "/privacy-request/administrate/deny", map[string]any{"request_ids": []string{denied}, "reason": "no"}, nil)
	c.must(200, "PATCH", "/privacy-request/administrate/extend", map[string]any{"request_ids": []string{denied}, "days": 5, "reason": "late"}, &ext)
	if len(ext.Failed) != 1 || ext.Failed[0].Message != "Cannot extend a denied request" {
		t.Errorf("extension of a denied request: %+v", ext)
	}
	var activity struct {
		Items []struct {
			Action  string  `json:"action"`
			Message *string `json:"message"`
			Actor   *string `json:"actor"`
		} `json:"items"`
	}
	c.must(200, "GET", "/privacy-request/"+first.ID+"/activity", nil, &activity)
	last := activity.Items[len(activity.Items)-1]
	if last.Action != "deadline_extended" || last.Message == nil || *last.Message != "Deadline extended by 1 day: complex request" || last.Actor == nil {
		t.Errorf("timeline: %+v", last)
	}

	// Search by identity: email without case, phone, external id.
	for _, q := range []string{strings.ToUpper(tag) + ".2@EXAMPLE.COM", tag + "-ext-2"} {
		c.must(200, "GET", "/privacy-request?identity="+url.QueryEscape(q), nil, &page)
		if len(page.Items) != 1 || page.Items[0].ID != sub.Succeeded[2].ID {
			t.Errorf("identity %q: %+v", q, page.Items)
		}
	}
	c.must(200, "GET", "/privacy-request?status=denied&identity="+url.QueryEscape(tag+"-ext-2"), nil, &page)
	if len(page.Items) != 0 {
		t.Errorf("identity with another status: %+v", page.Items)
	}
	for _, bad := range []string{"identity=" + strings.Repeat("a", 321), "due_before=tomorrow"} {
		if status, _ := c.do("GET", "/privacy-request?"+bad, nil); status != 422 {
			t.Errorf("%s: %d, want 422", bad[:12], status)
		}
	}

	// Reveal, evidence, export: each writes the access log.
	var revealed struct {
		Identity struct {
			Email string `json:"email"`
		} `json:"identity"`
		ExternalID string `json:"external_id"`
	}
	c.must(200, "POST", "/privacy-request/"+first.ID+"/reveal", nil, &revealed)
	if revealed.ExternalID != tag+"-ext-0" || !strings.HasPrefix(revealed.Identity.Email, tag) {
		t.Errorf("reveal: %+v", revealed)
	}
	var evidence map[string]any
	c.must(200, "GET", "/privacy-request/"+first.ID+"/evidence", nil, &evidence)
	if evidence["request"] == nil || len(evidence["admin_actions"].([]any)) != 1 {
		t.Errorf("evidence: %v", evidence)
	}
	var rows [][]string
	pages := 0
	cursor := ""
	for {
		path := "/privacy-request/export?size=3&created_from=" + url.QueryEscape(start)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		req, _ := http.NewRequest("GET", c.sys.URL+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export page %d: %d %v", pages, resp.StatusCode, err)
		}
		if strings.Join(recs[0], ",") != "id,status,policy_key,created_at,due_date,decided_at,decided_by,webhooks" {
			t.Fatalf("export header: %v", recs[0])
		}
		rows = append(rows, recs[1:]...)
		pages++
		if cursor = resp.Header.Get("X-Next-Cursor"); cursor == "" {
			break
		}
	}
	if pages < 3 || len(rows) != 7 {
		t.Errorf("export: %d pages, %d rows, want at least 3 pages and 7 rows", pages, len(rows))
	}
	for _, r := range rows {
		if r[0] == denied && (r[1] != "denied" || r[6] != "local-admin" || r[5] == "") {
			t.Errorf("denied row: %v", r)
		}
	}
	old := time.Now().AddDate(-2, 0, 0).UTC().Format(time.RFC3339)
	for _, bad := range []string{"created_from=" + url.QueryEscape(old), "created_from=" + url.QueryEscape(start) + "&size=1001",
		"created_from=" + url.QueryEscape(start) + "&size=0", "size=10"} {
		if status, _ := c.do("GET", "/privacy-request/export?"+bad, nil); status != 422 {
			t.Errorf("export %s: %d, want 422", bad, status)
		}
	}
	// A refused read of personal data is no access: nothing recorded.
	unknown := "/privacy-request/pri_00000000-0000-4000-8000-000000000000"
	if status, _ := c.do("POST", unknown+"/reveal", nil); status != 404 {
		t.Errorf("reveal of an unknown request: %d, want 404", status)
	}
	if status, _ := c.do("GET", unknown+"/evidence", nil); status != 404 {
		t.Errorf("evidence of an unknown request: %d, want 404", status)
	}
	var log struct {
		Items []struct {
			Actor            string  `json:"actor"`
			Action           string  `json:"action"`
			PrivacyRequestID *string `json:"privacy_request_id"`
		} `json:"items"`
	}
	c.must(200, "GET", "/audit/access?size=100", nil, &log)
	count := map[string]int{}
	for _, e := range log.Items[:pages+2] {
		if e.Actor != "local-admin" {
			t.Errorf("access entry without the actor: %+v", e)
		}
		if (e.PrivacyRequestID == nil) != (e.Action == "export") || e.PrivacyRequestID != nil && *e.PrivacyRequestID != first.ID {
			t.Errorf("access entry %s of request %q, want %s's (an export names none)", e.Action, derefString(e.PrivacyRequestID), first.ID)
		}
		count[e.Action]++
	}
	if count["reveal"] != 1 || count["evidence"] != 1 || count["export"] != pages {
		t.Errorf("access log: %v, want one reveal, one evidence, %d exports", count, pages)
	}
}

func derefString(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

package local_test

import (
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

// TestPolicyTimeframes: 30 days by default; a PATCH sets a timeframe or
// none, and fails a bad item alone, changing nothing for it.
func TestPolicyTimeframes(t *testing.T) {
	c := admin(t)
	for k, p := range c.policies() {
		if p.ExecutionTimeframe == nil || *p.ExecutionTimeframe != 30 || p.Name == "" || p.Action == "" {
			t.Errorf("%s: %+v, want 30 days", k, p)
		}
	}
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
	c.must(200, "PATCH", "/dsr/policy", `[{"key": "default_access_policy", "execution_timeframe": 45},
		{"key": "default_erasure_policy", "execution_timeframe": null},
		{"key": "default_consent_policy", "execution_timeframe": 0},
		{"key": "default_consent_policy", "execution_timeframe": 366},
		{"key": "default_consent_policy", "execution_timeframe": "7"},
		{"key": "default_update_policy"},
		{"key": "no_such_policy", "execution_timeframe": 10}]`, &res)
	if len(res.Succeeded) != 2 || len(res.Failed) != 5 {
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
	for _, n := range items {
		text := strings.ToLower(n.Subject + "\n" + n.Message)
		for _, v := range identities {
			if strings.Contains(text, v) {
				return fmt.Errorf("notification %s of %s names the identity %q", n.Kind, n.PrivacyRequestID, v)
			}
		}
	}
	fmt.Printf("checked %d notifications against %d identities: none named\n", len(items), len(identities))
	return nil
}

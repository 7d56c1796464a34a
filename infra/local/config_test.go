package local_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/configadmin"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/webhook"
)

func TestConnectionsAndSecrets(t *testing.T) {
	c := admin(t)
	c.seen = &[]seenResponse{}
	key := unique("crm")
	var patched struct {
		Succeeded []map[string]any `json:"succeeded"`
		Failed    []any            `json:"failed"`
	}
	c.must(200, "PATCH", "/connection", []map[string]any{{"name": "My CRM " + key, "connection_type": "https", "access": "write", "description": "d"}}, &patched)
	if len(patched.Succeeded) != 1 || len(patched.Failed) != 0 || patched.Succeeded[0]["secrets"] != nil {
		t.Fatalf("patch: %+v", patched)
	}
	derived := patched.Succeeded[0]["key"].(string)
	if derived != "my_crm_"+key {
		t.Fatalf("derived key %q", derived)
	}
	c.connection(key)

	var got map[string]any
	c.must(200, "GET", "/connection/"+key, nil, &got)
	secrets, _ := got["secrets"].(map[string]any)
	if secrets["url"] != validatorURL || secrets["authorization"] != "**********" || secrets["headers"] != "**********" {
		t.Fatalf("secrets shown as %v", got["secrets"])
	}
	if ts, _ := got["created_at"].(string); len(ts) != len("2026-11-26T12:00:00.123456Z") {
		t.Fatalf("created_at %q", got["created_at"])
	}

	// PATCH secret merges: a new authorization keeps url and headers.
	c.must(200, "PATCH", "/connection/"+key+"/secret", map[string]any{"authorization": "Bearer rotated-" + key}, nil)
	target := deliveryTargetFor(t, c, key)
	if target.Authorization != "Bearer rotated-"+key || target.URL != validatorURL || target.Headers["X-Api-Key"] != "hdr-"+key {
		t.Fatalf("merged secrets: url=%q auth ok=%v headers=%v", target.URL, target.Authorization == "Bearer rotated-"+key, len(target.Headers))
	}
	if len(target.SigningSecrets) != 1 || !strings.HasPrefix(target.SigningSecrets[0], webhook.SigningSecretPrefix) {
		t.Fatalf("signing secrets: %d", len(target.SigningSecrets))
	}

	// PUT secret replaces: headers not sent are dropped.
	status, raw := c.do("PUT", "/connection/"+key+"/secret", map[string]any{"url": validatorURL, "authorization": "Bearer replaced-" + key})
	if want := `{"msg":"Secrets updated for ConnectionConfig with key: ` + key + `.","test_status":null}`; status != 200 || strings.TrimSpace(string(raw)) != want {
		t.Fatalf("replace: %d %s, want 200 %s", status, raw, want)
	}
	c.must(200, "GET", "/connection/"+key, nil, &got)
	if secrets, _ := got["secrets"].(map[string]any); len(secrets) != 2 || secrets["url"] != validatorURL || secrets["authorization"] != "**********" {
		t.Fatalf("secrets after replace shown as %v", got["secrets"])
	}
	replaced := deliveryTargetFor(t, c, key)
	if replaced.Authorization != "Bearer replaced-"+key || len(replaced.Headers) != 0 {
		t.Fatalf("replaced secrets: auth ok=%v, %d headers", replaced.Authorization == "Bearer replaced-"+key, len(replaced.Headers))
	}

	// PATCH secret validates the merge: with nothing stored, an authorization alone lacks the url.
	status, raw = c.do("PATCH", "/connection/"+derived+"/secret", map[string]any{"authorization": "Bearer lonely-" + key})
	if status != 422 || detailOf(t, raw) != httpsSchemaError {
		t.Fatalf("merge into no secrets: %d %s", status, raw)
	}
	c.must(200, "GET", "/connection/"+derived, nil, &got)
	if got["secrets"] != nil {
		t.Fatalf("a refused merge stored %v", got["secrets"])
	}

	// Refusals do not echo what they refuse.
	for _, body := range []map[string]any{
		{"url": validatorURL, "authorization": "Bearer echo-" + key, "headers": map[string]string{"X-Bad": "echo-" + key + "\r\n"}},
		{"url": "https://u:echo-" + key + "@example.com/", "authorization": "Bearer echo-" + key},
	} {
		if status, _ := c.do("PUT", "/connection/"+key+"/secret", body); status != 422 {
			t.Fatalf("refusal: %d", status)
		}
	}

	// Nothing in the table, the logs or a response holds a secret in clear;
	// each webhook signing secret is in the one response that created it.
	signing := []string{target.SigningSecrets[0], replaced.SigningSecrets[0]}
	for _, plain := range append([]string{"s3cr3t-" + key, "rotated-" + key, "hdr-" + key, "replaced-" + key, "lonely-" + key, "echo-" + key, c.token}, signing...) {
		if where := rawContains(t, c, plain); where != "" {
			t.Fatalf("plaintext secret stored in %s", where)
		}
		if strings.Contains(logs.String(), plain) {
			t.Fatal("plaintext secret in the logs")
		}
		for _, r := range *c.seen {
			if bytes.Contains(r.body, []byte(plain)) && !slices.Contains(signing, plain) {
				t.Fatalf("%s answered a secret in clear: %s", r.call, r.body)
			}
		}
	}
	if !strings.Contains(logs.String(), `"route":"PUT /api/v1/connection/{key}/secret"`) {
		t.Fatal("the log check saw no request log")
	}
	for _, signing := range signing {
		var holders []string
		for _, r := range *c.seen {
			if bytes.Contains(r.body, []byte(signing)) {
				holders = append(holders, r.call)
			}
		}
		if !slices.Equal(holders, []string{"PUT /dsr/webhook/pre_approval"}) {
			t.Fatalf("a signing secret in the responses of %q, want only its creation", holders)
		}
	}

	c.must(204, "DELETE", "/connection/"+derived, nil, nil)
	status, raw = c.do("GET", "/connection/"+derived, nil)
	if status != 404 || detailOf(t, raw) != "No connection config found with key "+derived {
		t.Fatalf("after delete: %d %s", status, raw)
	}
}

// TestConnectionListPaged: offset paging over the connections, newest first:
// pages of one item walk the whole list.
func TestConnectionListPaged(t *testing.T) {
	c := admin(t)
	// Keys in the order of creation, so a tie on created_at (ordered by key) would fail.
	older, newer := c.connection(unique("pages_1")), c.connection(unique("pages_2"))
	all := walkPages(t, c, "/connection")
	if i, j := slices.Index(all, newer), slices.Index(all, older); i < 0 || j < 0 || i > j {
		t.Fatalf("connections %v: want %s before %s", all, newer, older)
	}
	for _, k := range []string{older, newer} {
		c.must(204, "DELETE", "/connection/"+k, nil, nil)
	}
}

// TestWebhookListNewestFirstAndPaged: webhooks are listed newest first and paged. Webhooks created
// by three PUTs list newest first, whatever the order of the last PUT, which
// keeps the creation time of the webhooks it keeps; pages of one item walk
// the list.
func TestWebhookListNewestFirstAndPaged(t *testing.T) {
	c := admin(t)
	conn := c.connection(unique("order"))
	hook := func(key string) map[string]any {
		return map[string]any{"key": key, "name": "Hook " + key, "connection_config_key": conn}
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{hook("old")}, nil)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{hook("old"), hook("mid")}, nil)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{hook("old"), hook("new"), hook("mid")}, nil)
	if keys := walkPages(t, c, "/dsr/webhook/pre_approval"); !slices.Equal(keys, []string{"new", "mid", "old"}) {
		t.Fatalf("webhooks listed as %v, want newest first", keys)
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	c.must(204, "DELETE", "/connection/"+conn, nil, nil)
}

// walkPages reads path with size=1, page after page, checks each page's
// total, page, size and pages, and the page after the last (empty), and
// returns the keys in order; they must be those of one size=100 page.
func walkPages(t *testing.T, c *client, path string) []string {
	t.Helper()
	type page struct {
		Items []struct {
			Key string `json:"key"`
		} `json:"items"`
		Total int `json:"total"`
		Page  int `json:"page"`
		Size  int `json:"size"`
		Pages int `json:"pages"`
	}
	var whole page
	c.must(200, "GET", path+"?size=100", nil, &whole)
	var want []string
	for _, it := range whole.Items {
		want = append(want, it.Key)
	}
	var keys []string
	for n := 1; n <= whole.Total+1; n++ {
		var p page
		c.must(200, "GET", fmt.Sprintf("%s?page=%d&size=1", path, n), nil, &p)
		wantItems := 1
		if n > whole.Total {
			wantItems = 0
		}
		if p.Total != whole.Total || p.Page != n || p.Size != 1 || p.Pages != whole.Total || len(p.Items) != wantItems {
			t.Fatalf("page %d of %s: %+v", n, path, p)
		}
		for _, it := range p.Items {
			keys = append(keys, it.Key)
		}
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("pages of %s: %v, one page: %v", path, keys, want)
	}
	return keys
}

// deliveryTargetFor puts a webhook on the connection and loads its delivery target as the dispatcher will.
func deliveryTargetFor(t *testing.T, c *client, conn string) gate.DeliveryTarget {
	t.Helper()
	wh := unique("dt")
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": wh, "name": wh, "connection_config_key": conn}}, nil)
	targets := uncachedTargets(c)
	target := targets.DeliveryTargets(context.Background(), []string{wh})[wh]
	if target.Err != nil {
		t.Fatal(target.Err)
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	if gone := targets.DeliveryTargets(context.Background(), []string{wh})[wh]; gone.Err == nil {
		t.Fatal("delivery target of a deleted webhook")
	}
	return target.Target
}

// uncachedTargets loads delivery targets as the dispatcher does, with no
// cache between lookups.
func uncachedTargets(c *client) *gate.TargetCache {
	return &gate.TargetCache{Admin: configadmin.New(app.Deps{Config: c.sys.Config, AWS: c.sys.AWS, Now: time.Now}), Now: time.Now}
}

// rawContains scans the config table for plain anywhere in any attribute.
func rawContains(t *testing.T, c *client, plain string) string {
	t.Helper()
	db := dynamodb.NewFromConfig(c.sys.AWS)
	table := c.sys.Stack.Resources["ConfigTable"].Ref
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			for name, v := range item {
				if avContains(v, []byte(plain)) {
					return name
				}
			}
		}
	}
	return ""
}

func avContains(v types.AttributeValue, plain []byte) bool {
	switch a := v.(type) {
	case *types.AttributeValueMemberS:
		return strings.Contains(a.Value, string(plain))
	case *types.AttributeValueMemberB:
		return bytes.Contains(a.Value, plain)
	case *types.AttributeValueMemberL:
		return slices.ContainsFunc(a.Value, func(x types.AttributeValue) bool { return avContains(x, plain) })
	case *types.AttributeValueMemberM:
		for _, x := range a.Value {
			if avContains(x, plain) {
				return true
			}
		}
	case *types.AttributeValueMemberBS:
		return slices.ContainsFunc(a.Value, func(x []byte) bool { return bytes.Contains(x, plain) })
	}
	return false
}

func TestWebhookSet(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	a, b := c.connection(unique("conn_a")), c.connection(unique("conn_b"))

	var put []webhookOut
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{
		{"name": "My New Pre-Approval Webhook", "connection_config_key": a},
		{"key": "second", "name": "Second", "connection_config_key": b},
	}, &put)
	if len(put) != 2 || put[0].Key != "my_new_pre_approval_webhook" || put[1].Key != "second" ||
		put[0].ConnectionConfig == nil || put[0].ConnectionConfig.Key != a || put[0].ConnectionConfig.Secrets["authorization"] != "**********" ||
		!strings.HasPrefix(put[0].SigningSecret, "whsec_") {
		t.Fatalf("put: %+v", put)
	}

	errorsCases := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"unknown connection", []map[string]any{{"key": "x1", "name": "X1", "connection_config_key": a}, {"key": "x2", "name": "X2", "connection_config_key": "nope"}}, 404, "No connection configuration found with key 'nope'."},
		{"duplicate keys", []map[string]any{{"key": "d", "name": "D1", "connection_config_key": a}, {"key": "d", "name": "D2", "connection_config_key": a}}, 400, "Check request body: there are multiple webhooks whose keys or names resolve to the same value."},
		{"duplicate derived keys", []map[string]any{{"name": "Same Name", "connection_config_key": a}, {"name": "same-name", "connection_config_key": b}}, 400, "Check request body: there are multiple webhooks whose keys or names resolve to the same value."},
		{"duplicate names", []map[string]any{{"key": "n1", "name": "N", "connection_config_key": a}, {"key": "n2", "name": "N", "connection_config_key": a}}, 400, "Check request body: there are multiple webhooks whose keys or names resolve to the same value."},
	}
	for _, tc := range errorsCases {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := c.do("PUT", "/dsr/webhook/pre_approval", tc.body)
			if status != tc.status || detailOf(t, raw) != tc.detail {
				t.Fatalf("%d %s", status, raw)
			}
			if keys := c.webhookKeys(); !sameSet(keys, "my_new_pre_approval_webhook", "second") {
				t.Fatalf("set changed: %v", keys)
			}
		})
	}

	// The signing secret is shown once; later answers omit it.
	var again []webhookOut
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "second", "name": "Second renamed", "connection_config_key": a}}, &again)
	if len(again) != 1 || again[0].SigningSecret != "" || again[0].Name != "Second renamed" {
		t.Fatalf("replace: %+v", again)
	}
	if keys := c.webhookKeys(); !sameSet(keys, "second") {
		t.Fatalf("omitted webhook kept: %v", keys)
	}

	status, raw := c.do("GET", "/dsr/webhook/pre_approval/missing", nil)
	if status != 404 || detailOf(t, raw) != "No PreApprovalWebhook found for key missing." {
		t.Fatalf("get missing: %d %s", status, raw)
	}
	var one webhookOut
	c.must(200, "GET", "/dsr/webhook/pre_approval/second", nil, &one)
	if one.Name != "Second renamed" || one.ConnectionConfig.Key != a {
		t.Fatalf("get: %+v", one)
	}

	// PATCH: rename, move, refusals.
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{
		{"key": "second", "name": "Second", "connection_config_key": a},
		{"key": "third", "name": "Third", "connection_config_key": a},
	}, nil)
	c.must(200, "PATCH", "/dsr/webhook/pre_approval/second", map[string]any{"name": "Second v2", "connection_config_key": b}, &one)
	if one.Name != "Second v2" || one.ConnectionConfig.Key != b {
		t.Fatalf("patch: %+v", one)
	}
	for _, tc := range []struct {
		path   string
		body   any
		status int
		detail string
	}{
		{"/dsr/webhook/pre_approval/second", map[string]any{"name": "Third"}, 400, "Check request body: there are multiple webhooks whose keys or names resolve to the same value."},
		{"/dsr/webhook/pre_approval/second", map[string]any{"connection_config_key": "nope"}, 404, "No connection configuration found with key 'nope'."},
		{"/dsr/webhook/pre_approval/missing", map[string]any{"name": "Z"}, 404, "No PreApprovalWebhook found for key missing."},
	} {
		status, raw := c.do("PATCH", tc.path, tc.body)
		if status != tc.status || detailOf(t, raw) != tc.detail {
			t.Fatalf("PATCH %s %v: %d %s", tc.path, tc.body, status, raw)
		}
	}
	status, _ = c.do("PATCH", "/dsr/webhook/pre_approval/second", map[string]any{"key": "renamed"})
	if status != 422 {
		t.Fatalf("patch key: %d", status)
	}

	// Rotation: a new secret; the previous one still signs for 24 h, so validators can switch over.
	var rotated webhookOut
	c.must(200, "POST", "/dsr/webhook/pre_approval/second/rotate-secret", nil, &rotated)
	if !strings.HasPrefix(rotated.SigningSecret, "whsec_") {
		t.Fatalf("rotate: %+v", rotated)
	}
	got := uncachedTargets(c).DeliveryTargets(context.Background(), []string{"second"})["second"]
	if got.Err != nil || len(got.Target.SigningSecrets) != 2 || got.Target.SigningSecrets[0] != rotated.SigningSecret {
		t.Fatalf("after rotation: %d secrets, %v", len(got.Target.SigningSecrets), got.Err)
	}

	// DELETE one webhook; deleting a connection deletes its webhooks.
	status, raw = c.do("DELETE", "/dsr/webhook/pre_approval/third", nil)
	if status != 200 || strings.TrimSpace(string(raw)) != "null" {
		t.Fatalf("delete: %d %s", status, raw)
	}
	status, raw = c.do("DELETE", "/dsr/webhook/pre_approval/third", nil)
	if status != 404 || detailOf(t, raw) != "No PreApprovalWebhook found for key third." {
		t.Fatalf("delete again: %d %s", status, raw)
	}
	c.must(204, "DELETE", "/connection/"+b, nil, nil)
	if keys := c.webhookKeys(); len(keys) != 0 {
		t.Fatalf("webhooks of a deleted connection kept: %v", keys)
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "w", "name": "W", "connection_config_key": a}}, nil)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	if keys := c.webhookKeys(); len(keys) != 0 {
		t.Fatalf("[] kept %v", keys)
	}
}

func sameSet(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestWebhookPutRace(t *testing.T) {
	c := admin(t)
	conn := c.connection(unique("race"))
	setA := []map[string]any{{"key": "a1", "name": "A1", "connection_config_key": conn}, {"key": "a2", "name": "A2", "connection_config_key": conn}}
	setB := []map[string]any{{"key": "b1", "name": "B1", "connection_config_key": conn}, {"key": "a1", "name": "B-A1", "connection_config_key": conn}, {"key": "b3", "name": "B3", "connection_config_key": conn}}
	for i := range 20 {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for j, body := range []any{setA, setB} {
			wg.Go(func() { statuses[j], _ = c.do("PUT", "/dsr/webhook/pre_approval", body) })
		}
		wg.Wait()
		for _, s := range statuses {
			if s != 200 && s != 409 {
				t.Fatalf("round %d: status %v", i, statuses)
			}
		}
		var page struct {
			Items []webhookOut `json:"items"`
		}
		c.must(200, "GET", "/dsr/webhook/pre_approval", nil, &page)
		names := map[string]string{}
		for _, w := range page.Items {
			names[w.Key] = w.Name
		}
		isA := len(names) == 2 && names["a1"] == "A1" && names["a2"] == "A2"
		isB := len(names) == 3 && names["a1"] == "B-A1" && names["b1"] == "B1" && names["b3"] == "B3"
		if !isA && !isB {
			t.Fatalf("round %d: a mix of the two sets: %v", i, names)
		}
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
}

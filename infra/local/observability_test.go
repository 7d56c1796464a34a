package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/app"
)

// TestJourneyLogsNoSecretAndCarriesTheStableKeys runs a whole journey on its
// own local system, with identity verification on, the functions' logs and
// EMF lines captured in one stream (as Lambda's stdout): a connection with
// secrets, a webhook with its signing secret, a submission, the mailed code,
// the signed call to the validator, its replies (one accepted, one refused),
// the approval. No line may hold a secret, an authorization value, a token or
// the code; delivery lines carry the stable keys and the Lambda request id;
// deliveries, replies and decisions are counted as EMF metrics.
func TestJourneyLogsNoSecretAndCarriesTheStableKeys(t *testing.T) {
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Skip("reads the mailed code from moto's model API")
	}
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const sender = "gate@example.com"
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0",
		Env:     map[string]string{"SUBJECT_IDENTITY_VERIFICATION_REQUIRED": "true", "VERIFICATION_SENDER_EMAIL": sender},
		Log:     app.NewLogger(&out, slog.LevelDebug),
		Metrics: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	if _, err := sesv2.NewFromConfig(sys.AWS).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatal(err)
	}
	c := adminOf(t, sys)
	v := newValidator(t, http.StatusAccepted)
	hook := unique("obs")
	signingSecret := c.validatorWebhook(v, hook)

	id, status := c.submit()
	if status != "identity_unverified" {
		t.Fatalf("submitted request is %s", status)
	}
	code := mailedCode(t, aws.ToString(sys.AWS.BaseEndpoint))
	c.must(200, "POST", "/privacy-request/"+id+"/verify", map[string]string{"code": code}, nil)

	t.Cleanup(func() {
		if t.Failed() {
			t.Log(out.String())
		}
	})
	waitUntil(t, 20*time.Second, func() bool { return len(v.received()) > 0 })
	call := v.received()[0].header
	replyToken := call.Get("reply-to-token")
	if replyToken == "" || call.Get("webhook-signature") == "" {
		t.Fatalf("call headers %v", call)
	}
	if status, raw := replyOn(t, sys, id, "eligible", "Bearer "+replyToken); status != 200 {
		t.Fatalf("eligible reply: %d %s", status, raw)
	}
	if status, raw := replyOn(t, sys, id, "not-eligible", "Bearer "+replyToken); status != 400 {
		t.Fatalf("contradicting reply: %d %s, want 400", status, raw)
	}
	var req requestOut
	c.must(200, "GET", "/privacy-request/"+id, nil, &req)
	if req.Status != "approved" {
		t.Fatalf("request is %s, want approved", req.Status)
	}
	// The decision is counted by the stream function, after the fact.
	waitUntil(t, 20*time.Second, func() bool { return strings.Contains(out.String(), `"decision":"auto_approved"`) })

	lines := jsonLines(t, out.String())
	secrets := map[string]string{
		"connection authorization": "Bearer val-" + hook, "connection header": "hdr-" + hook,
		"signing secret": signingSecret, "signing key": strings.TrimPrefix(signingSecret, "whsec_"),
		"admin token": c.token, "root client secret": "local-admin-secret",
		"reply token": replyToken, "webhook signature": call.Get("webhook-signature"),
	}
	codeRE := regexp.MustCompile(`(^|\D)` + code + `(\D|$)`)
	for _, l := range lines {
		for name, s := range secrets {
			if strings.Contains(l.raw, s) {
				t.Errorf("the %s reached a log line (msg %q)", name, l.fields["msg"])
			}
		}
		for k, v := range l.fields {
			if s, ok := v.(string); ok && k != "time" && codeRE.MatchString(s) {
				t.Errorf("the verification code reached a log line (msg %q, key %s)", l.fields["msg"], k)
			}
		}
	}

	delivery := id + ":" + hook
	var called, recorded bool
	metricSeen := map[string]bool{}
	for _, l := range lines {
		f := l.fields
		switch {
		case f["msg"] == "pre-approval webhook called":
			called = true
			want := map[string]any{"privacy_request_id": id, "webhook_key": hook, "delivery_id": delivery, "attempt": 1.0,
				"status_code": 202.0, "function": "DispatcherFunction"}
			for k, w := range want {
				if f[k] != w {
					t.Errorf("delivery line: %s = %v, want %v (%s)", k, f[k], w, l.raw)
				}
			}
			if rid, _ := f["aws_request_id"].(string); len(rid) != 36 {
				t.Errorf("delivery line without a Lambda request id: %s", l.raw)
			}
		case f["msg"] == "pre-approval reply recorded":
			recorded = true
			if f["privacy_request_id"] != id || f["webhook_key"] != hook || f["status"] != "approved" || f["aws_request_id"] == nil {
				t.Errorf("reply line %s", l.raw)
			}
		case f["msg"] == "request":
			if _, ok := f["status_code"].(float64); !ok || f["api_request_id"] == nil || f["aws_request_id"] == nil || f["status"] != nil {
				t.Errorf("API request line %s", l.raw)
			}
		case f["_aws"] != nil:
			switch {
			case f["Deliveries"] == 1.0 && f["outcome"] == "delivered" && f["webhook_key"] == hook && f["privacy_request_id"] == id:
				if ms, ok := f["DeliveryLatency"].(float64); !ok || ms <= 0 {
					t.Errorf("delivery metric without latency: %s", l.raw)
				}
				metricSeen["delivery delivered"] = true
			case f["Replies"] == 1.0:
				metricSeen[fmt.Sprintf("reply %v %v", f["answer"], f["outcome"])] = true
			case f["Decisions"] == 1.0 && f["privacy_request_id"] == id:
				metricSeen[fmt.Sprintf("decision %v", f["decision"])] = true
			}
		}
	}
	if !called || !recorded {
		t.Errorf("delivery line seen %v, reply line seen %v", called, recorded)
	}
	for _, m := range []string{"delivery delivered", "reply eligible accepted", "reply not_eligible refused", "decision auto_approved"} {
		if !metricSeen[m] {
			t.Errorf("no %s metric line; saw %v", m, metricSeen)
		}
	}
}

type jsonLine struct {
	raw    string
	fields map[string]any
}

// jsonLines parses every line; each must be one JSON object (CloudWatch
// Logs reads a line that is not as plain text, and EMF needs JSON).
func jsonLines(t *testing.T, s string) []jsonLine {
	t.Helper()
	var out []jsonLine
	for _, raw := range strings.Split(strings.TrimSpace(s), "\n") {
		var f map[string]any
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			t.Fatalf("not a JSON line: %q", raw)
		}
		out = append(out, jsonLine{raw: raw, fields: f})
	}
	return out
}

// mailedCode reads the verification code from the one mail moto's SES
// holds (moto keeps sent mail and shows it on its model API).
func mailedCode(t *testing.T, endpoint string) string {
	t.Helper()
	resp, err := http.Get(endpoint + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var data struct {
		SES struct {
			Message []struct {
				Body string `json:"body"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.SES.Message) != 1 {
		t.Fatalf("%d mails sent, want 1: %s", len(data.SES.Message), raw)
	}
	m := regexp.MustCompile(`code is (\d{6})`).FindStringSubmatch(data.SES.Message[0].Body)
	if m == nil {
		t.Fatalf("no code in %q", data.SES.Message[0].Body)
	}
	return m[1]
}

package validator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
)

// vectors is testdata/vectors.json, the test vectors the Go, Python and
// TypeScript SDKs share; its "about" says how to read it.
type vectors struct {
	Secrets    map[string]string `json:"secrets"`
	Signatures []struct {
		Name      string `json:"name"`
		Secret    string `json:"secret"`
		WebhookID string `json:"webhook_id"`
		Timestamp string `json:"timestamp"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	} `json:"signatures"`
	GateCalls []struct {
		Name    string            `json:"name"`
		SentAt  int64             `json:"sent_at"`
		Body    string            `json:"body"`
		Headers map[string]string `json:"headers"`
		Signed  []string          `json:"signed_with"`
	} `json:"gate_calls"`
	Bodies map[string]string `json:"bodies"`
	Calls  []struct {
		Name       string             `json:"name"`
		GateCall   int                `json:"gate_call"`
		Body       string             `json:"body"`
		VerifyWith []string           `json:"verify_with"`
		Offset     int64              `json:"timestamp_offset_seconds"`
		Signature  *string            `json:"signature"`
		Headers    map[string]*string `json:"headers"`
		Tamper     *struct{ From, To string }
		Expect     string        `json:"expect"`
		Call       *expectedCall `json:"call"`
	} `json:"calls"`
	Replies []struct {
		Name    string `json:"name"`
		ReplyTo struct {
			BaseURL     string `json:"base_url"`
			Eligible    string `json:"eligible"`
			NotEligible string `json:"not_eligible"`
			Token       string `json:"token"`
		} `json:"reply_to"`
		Decision string `json:"decision"`
		Request  struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		} `json:"request"`
	} `json:"replies"`
	ReplyStatuses []struct {
		Status  *int   `json:"status"`
		Outcome string `json:"outcome"`
	} `json:"reply_statuses"`
}

type expectedCall struct {
	WebhookID            string  `json:"webhook_id"`
	PrivacyRequestID     string  `json:"privacy_request_id"`
	PrivacyRequestStatus string  `json:"privacy_request_status"`
	Email                *string `json:"email"`
	PhoneNumber          *string `json:"phone_number"`
	PolicyAction         string  `json:"policy_action"`
	PolicyKey            string  `json:"policy_key"`
	ExternalID           *string `json:"external_id"`
	EligibleURL          string  `json:"eligible_url"`
	NotEligibleURL       string  `json:"not_eligible_url"`
	ReplyToken           string  `json:"reply_token"`
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Calls) == 0 || len(v.GateCalls) == 0 || len(v.Replies) == 0 || len(v.ReplyStatuses) == 0 {
		t.Fatal("vectors.json has an empty section")
	}
	return &v
}

// refusalKinds names the vectors' refusals in this SDK.
var refusalKinds = map[string]error{
	"bad_signature":    validator.ErrBadSignature,
	"stale_timestamp":  validator.ErrStaleTimestamp,
	"malformed_header": validator.ErrMalformedHeader,
	"malformed_body":   validator.ErrMalformedBody,
}

var placeholder = regexp.MustCompile(`\{([a-z_]+)(?::(\d+))?\}`)

func TestVectorsSignatures(t *testing.T) {
	v := loadVectors(t)
	for _, s := range v.Signatures {
		if got := sign(s.Secret, s.WebhookID, s.Timestamp, []byte(s.Body)); got != s.Signature {
			t.Errorf("%s: %s, want %s", s.Name, got, s.Signature)
		}
	}
}

// Each gate call verifies at its own time under each secret it was signed
// with, and parses into the call it describes.
func TestVectorsGateCalls(t *testing.T) {
	v := loadVectors(t)
	for _, gc := range v.GateCalls {
		for _, name := range gc.Signed {
			verifier := verifierAt(t, time.Unix(gc.SentAt, 0), v.Secrets[name])
			h := http.Header{}
			for k, val := range gc.Headers {
				h.Set(k, val)
			}
			if _, err := verifier.Verify(h, []byte(gc.Body)); err != nil {
				t.Errorf("%s under %s: %v", gc.Name, name, err)
			}
		}
	}
}

// Each call is signed now (plus its offset) and verified at once on the
// real clock, as the Python and TypeScript SDKs do.
func TestVectorsCalls(t *testing.T) {
	v := loadVectors(t)
	for _, vc := range v.Calls {
		t.Run(vc.Name, func(t *testing.T) {
			gc := v.GateCalls[vc.GateCall]
			body := v.Bodies[vc.Body]
			ts := strconv.FormatInt(time.Now().Unix()+vc.Offset, 10)
			id := gc.Headers["webhook-id"]
			h := http.Header{}
			for k, val := range gc.Headers {
				h.Set(k, val)
			}
			h.Set("webhook-timestamp", ts)
			h.Del("webhook-signature")
			if vc.Signature != nil {
				h.Set("webhook-signature", placeholder.ReplaceAllStringFunc(*vc.Signature, func(m string) string {
					parts := placeholder.FindStringSubmatch(m)
					sig := strings.TrimPrefix(sign(v.Secrets[parts[1]], id, ts, []byte(body)), "v1,")
					if n, err := strconv.Atoi(parts[2]); err == nil {
						sig = sig[:n]
					}
					return sig
				}))
			}
			tsMinus1 := strconv.FormatInt(time.Now().Unix()+vc.Offset-1, 10)
			for k, val := range vc.Headers {
				if val == nil {
					h.Del(k)
					continue
				}
				h.Set(k, strings.NewReplacer("{ts}", ts, "{ts-1}", tsMinus1).Replace(*val))
			}
			if vc.Tamper != nil {
				body = strings.Replace(body, vc.Tamper.From, vc.Tamper.To, 1)
			}
			var secrets []string
			for _, name := range vc.VerifyWith {
				secrets = append(secrets, v.Secrets[name])
			}
			verifier, err := validator.NewVerifier(secrets...)
			if err != nil {
				t.Fatal(err)
			}
			c, err := verifier.Verify(h, []byte(body))
			if vc.Expect != "ok" {
				if want := refusalKinds[vc.Expect]; want == nil || !errors.Is(err, want) {
					t.Fatalf("err = %v, want %s", err, vc.Expect)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			checkCall(t, c, vc.Call)
		})
	}
}

func checkCall(t *testing.T, c *validator.Call, want *expectedCall) {
	t.Helper()
	eligible, _ := c.ReplyTo.URL(validator.Eligible)
	notEligible, _ := c.ReplyTo.URL(validator.NotEligible)
	got := expectedCall{WebhookID: c.WebhookID, PrivacyRequestID: c.PrivacyRequestID, PrivacyRequestStatus: c.PrivacyRequestStatus,
		Email: optional(c.Identity.Email), PhoneNumber: optional(c.Identity.PhoneNumber), PolicyAction: c.PolicyAction,
		PolicyKey: c.PrivacyRequest.Policy.Key, ExternalID: c.PrivacyRequest.ExternalID,
		EligibleURL: eligible, NotEligibleURL: notEligible, ReplyToken: c.ReplyTo.Token}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("call\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// recordingTransport answers every request with the next status (the last
// one repeats; 0 is a network error) and records what it was sent.
type recordingTransport struct {
	mu       sync.Mutex
	statuses []int
	sent     []*http.Request
	bodies   []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	rt.mu.Lock()
	rt.sent = append(rt.sent, r)
	rt.bodies = append(rt.bodies, string(body))
	status := rt.statuses[min(len(rt.sent), len(rt.statuses))-1]
	rt.mu.Unlock()
	if status == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("null")), Header: http.Header{}, Request: r}, nil
}

func TestVectorsReplies(t *testing.T) {
	v := loadVectors(t)
	decisions := map[string]validator.Decision{"eligible": validator.Eligible, "not_eligible": validator.NotEligible}
	for _, vr := range v.Replies {
		rt := &recordingTransport{statuses: []int{200}}
		r := &validator.Replier{Client: &http.Client{Transport: rt}}
		to := validator.ReplyTo{BaseURL: vr.ReplyTo.BaseURL, EligiblePath: vr.ReplyTo.Eligible, NotEligiblePath: vr.ReplyTo.NotEligible, Token: vr.ReplyTo.Token}
		if err := r.Reply(context.Background(), to, decisions[vr.Decision]); err != nil {
			t.Fatalf("%s: %v", vr.Name, err)
		}
		if len(rt.sent) != 1 {
			t.Fatalf("%s: %d requests", vr.Name, len(rt.sent))
		}
		got, want := rt.sent[0], vr.Request
		if got.Method != want.Method || got.URL.String() != want.URL || rt.bodies[0] != want.Body {
			t.Errorf("%s: %s %s %q, want %s %s %q", vr.Name, got.Method, got.URL, rt.bodies[0], want.Method, want.URL, want.Body)
		}
		for k, val := range want.Headers {
			if got.Header.Get(k) != val {
				t.Errorf("%s: %s: %q, want %q", vr.Name, k, got.Header.Get(k), val)
			}
		}
	}
}

// Each status is answered once, then 200: a retried status makes a second
// attempt that succeeds; a final one is the error.
func TestVectorsReplyStatuses(t *testing.T) {
	v := loadVectors(t)
	to := validator.ReplyTo{BaseURL: "https://gate.example/api/v1", EligiblePath: "/e", NotEligiblePath: "/n", Token: "t"}
	for _, s := range v.ReplyStatuses {
		status := 0
		if s.Status != nil {
			status = *s.Status
		}
		rt := &recordingTransport{statuses: []int{status, 200}}
		r := &validator.Replier{Client: &http.Client{Transport: rt}, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
		err := r.Reply(context.Background(), to, validator.Eligible)
		var outcome string
		var rerr *validator.ReplyError
		switch {
		case err == nil && len(rt.sent) == 1:
			outcome = "accepted"
		case err == nil && len(rt.sent) == 2:
			outcome = "retry"
		case errors.As(err, &rerr) && len(rt.sent) == 1 && rerr.StatusCode == status:
			outcome = "final"
		default:
			outcome = "unexpected: " + strconv.Itoa(len(rt.sent)) + " attempts, " + errString(err)
		}
		if outcome != s.Outcome {
			t.Errorf("status %d: %s, want %s", status, outcome, s.Outcome)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

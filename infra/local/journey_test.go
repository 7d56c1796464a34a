package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/queue"
)

// journeyCall is the journey test's one door to HTTP: admin, subject and
// validator calls all go through it, and every API answer is held to
// docs/openapi.yaml. body is JSON-encoded, except url.Values (a form) and
// nil; authorization is the whole header value, none when empty.
func journeyCall(t *testing.T, method, target, authorization string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp.StatusCode, raw
}

// fakeValidator is a customer's validator on loopback. It answers 200, or
// 500 to every attempt for the requests whose external_id it was told to
// fail; the test sends its replies (journeyCall) once the deliveries have settled.
type fakeValidator struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	fail map[string]bool            // external ids to answer 500
	got  map[string][]validatorCall // by privacy request id
}

func newFakeValidator(t *testing.T, name string) *fakeValidator {
	v := &fakeValidator{name: name, fail: map[string]bool{}, got: map[string][]validatorCall{}}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			ID      string `json:"privacy_request_id"`
			Request struct {
				ExternalID string `json:"external_id"`
			} `json:"privacy_request"`
		}
		_ = json.Unmarshal(body, &in)
		v.mu.Lock()
		v.got[in.ID] = append(v.got[in.ID], validatorCall{header: r.Header.Clone(), body: body})
		fail := v.fail[in.Request.ExternalID]
		v.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *fakeValidator) failFor(externalID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fail[externalID] = true
}

func (v *fakeValidator) calls(id string) []validatorCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.got[id])
}

// journeySystem is one local system, its admin token and what its approved
// queue delivered (the test owns the system, so it may consume the queue).
type journeySystem struct {
	name     string
	sys      *local.System
	auth     string
	secrets  map[string]string // webhook key -> signing secret
	mu       sync.Mutex
	codes    []string // verification codes read from the outbox
	approved map[string][]queue.ApprovedBody
}

const journeyAttempts = 2 // WEBHOOK_MAX_ATTEMPTS of every journey system

// startJourney starts a local system with the journey's settings plus env.
func startJourney(env map[string]string) (*local.System, error) {
	root, err := local.Root()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := map[string]string{"WEBHOOK_BACKOFF": "50ms", "WEBHOOK_MAX_ATTEMPTS": strconv.Itoa(journeyAttempts)}
	for k, v := range env {
		full[k] = v
	}
	return local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Env: full,
		Log:        slog.New(slog.NewJSONHandler(&journeyLogs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AWSOptions: []func(*aws.Config){journeyCalls.install}})
}

// journeyLogs holds every log line of the journey's systems, at debug level.
var journeyLogs lockedBuffer

// newJourneySystem takes an admin token from the local issuer.
func newJourneySystem(t *testing.T, name string, sys *local.System) *journeySystem {
	t.Helper()
	js := &journeySystem{name: name, sys: sys, secrets: map[string]string{}, approved: map[string][]queue.ApprovedBody{}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	js.must(t, 200, "POST", "/oauth/token", "", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"local-admin"}, "client_secret": {"local-admin-secret"}}, &tok)
	js.auth = "Bearer " + tok.AccessToken
	return js
}

// must calls the API (path under /api/v1) and fails unless the status is want.
func (s *journeySystem) must(t *testing.T, want int, method, path, authorization string, body, out any) {
	t.Helper()
	status, raw := journeyCall(t, method, s.sys.URL+"/api/v1"+path, authorization, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// connect creates one connection per validator, with secrets, through the API.
func (s *journeySystem) connect(t *testing.T, vals map[string]*fakeValidator) {
	t.Helper()
	for key, v := range vals {
		s.must(t, 200, "PATCH", "/connection", s.auth, []map[string]any{{"key": "conn_" + key, "name": "Connection " + v.name,
			"connection_type": "https", "access": "read"}}, nil)
		s.must(t, 200, "PUT", "/connection/conn_"+key+"/secret", s.auth, map[string]any{"url": v.srv.URL + "/validate",
			"authorization": "Bearer val-" + key, "headers": map[string]string{"X-Api-Key": "hdr-" + key}}, nil)
	}
}

// configure replaces the webhook set: one webhook "Validator X" per key, on its connection.
func (s *journeySystem) configure(t *testing.T, vals map[string]*fakeValidator, keys []string) {
	t.Helper()
	set := []map[string]any{}
	for _, k := range keys {
		set = append(set, map[string]any{"key": k, "name": vals[k].name, "connection_config_key": "conn_" + k})
	}
	var out []webhookOut
	s.must(t, 200, "PUT", "/dsr/webhook/pre_approval", s.auth, set, &out)
	for _, w := range out {
		if w.SigningSecret != "" {
			s.secrets[w.Key] = w.SigningSecret
		}
	}
}

type journeyRequest struct {
	ID                 string         `json:"id"`
	Status             string         `json:"status"`
	PolicyAction       string         `json:"policy_action"`
	ExternalID         *string        `json:"external_id"`
	ReviewedBy         *string        `json:"reviewed_by"`
	IdentityVerifiedAt *string        `json:"identity_verified_at"`
	Webhooks           []webhookState `json:"webhooks"`
}

type webhookState struct {
	Key      string `json:"key"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
}

func (s *journeySystem) request(t *testing.T, id string) journeyRequest {
	t.Helper()
	var r journeyRequest
	s.must(t, 200, "GET", "/privacy-request/"+id, s.auth, nil, &r)
	return r
}

// entry is one timeline item as the test compares it.
type entry struct{ action, message, hook, actor string }

func (s *journeySystem) timeline(t *testing.T, id string) []entry {
	t.Helper()
	var act activityOut
	s.must(t, 200, "GET", "/privacy-request/"+id+"/activity", s.auth, nil, &act)
	str := func(s *string) string { return aws.ToString(s) }
	out := make([]entry, len(act.Items))
	for i, e := range act.Items {
		out[i] = entry{e.Action, str(e.Message), str(e.WebhookKey), str(e.Actor)}
	}
	return out
}

// drainApproved reads the approved queue until one long poll brings nothing,
// deleting what it read (nothing else consumes this system's queue).
func (s *journeySystem) drainApproved(t *testing.T) {
	t.Helper()
	q := sqs.NewFromConfig(s.sys.AWS)
	url := aws.String(s.sys.Stack.Resources["ApprovedQueue"].Ref)
	for {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		for _, m := range out.Messages {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				t.Fatalf("approved message %s: %v", aws.ToString(m.Body), err)
			}
			s.mu.Lock()
			s.approved[b.PrivacyRequestID] = append(s.approved[b.PrivacyRequestID], b)
			s.mu.Unlock()
			if _, err := q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (s *journeySystem) approvedMessages(id string) []queue.ApprovedBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.approved[id])
}

const adminReason = "Not eligible for this request"

// journeyReply is a validator's answer and what the reply route must say.
type journeyReply struct {
	hook, answer string // answer: eligible or not-eligible
	status       int
	detail       string // for a 4xx
}

// journeyCase is one path of a request's life (docs/lifecycle.md), from submission to its end.
type journeyCase struct {
	name    string
	sys     *journeySystem
	policy  string   // default: default_access_policy
	hooks   []string // configured webhooks, in set order
	fail    []string // validators answering 500 to every attempt
	verify  bool     // identity verification first (with the code from the outbox)
	admit   string   // status right after submission (after verification when verify)
	replies []journeyReply
	hold    string // status once the replies are in
	decide  string // the admin's "approve" or "deny", or none
	late    []journeyReply
	final   string
	// The timeline: head in order, then the dispatcher's entries in any
	// order (deliveries run concurrently), then tail in order.
	head, deliveries, tail []entry
}

// TestJourney walks every path of docs/lifecycle.md through the API with three
// validators on loopback: the admin configures connections, secrets and
// webhooks, subjects submit, validators are called and reply (or fail, or
// stay silent), admins decide; each path checks statuses, the timeline,
// what the validators received and the approved queue.
func TestJourney(t *testing.T) {
	vals := map[string]*fakeValidator{}
	for _, k := range []string{"val_a", "val_b", "val_c"} {
		vals[k] = newFakeValidator(t, "Validator "+strings.ToUpper(k[len(k)-1:]))
	}
	// Three systems, started at once: manual approval (the local default),
	// identity verification required, manual approval off.
	envs := []map[string]string{nil, {"SUBJECT_IDENTITY_VERIFICATION_REQUIRED": "true"}, {"REQUIRE_MANUAL_REQUEST_APPROVAL": "false"}}
	systems := make([]*local.System, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() { systems[i], errs[i] = startJourney(env) })
	}
	wg.Wait()
	// Last, after every system stopped: each call a function made is one its IAM policy allows.
	t.Cleanup(func() {
		if !t.Failed() && systems[0] != nil {
			journeyCalls.check(t, systems[0].Stack.Template)
		}
	})
	for i, sys := range systems {
		if sys != nil {
			t.Cleanup(sys.Stop)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	manual := newJourneySystem(t, "manual_approval", systems[0])
	verifying := newJourneySystem(t, "identity_verification", systems[1])
	automatic := newJourneySystem(t, "no_manual_approval", systems[2])
	for _, s := range []*journeySystem{manual, verifying, automatic} {
		s.connect(t, vals)
	}

	all := []string{"val_a", "val_b", "val_c"}
	triggered := entry{"pre_approval_webhook_triggered", "Triggered pre-approval webhooks: Validator A, Validator B, Validator C", "", ""}
	called := func(k string) entry {
		return entry{"pre_approval_webhook_called", "Called pre-approval webhook '" + vals[k].name + "': HTTP 200", k, ""}
	}
	calledAll := []entry{called("val_a"), called("val_b"), called("val_c")}
	eligible := func(k string) entry {
		return entry{"pre_approval_eligible", "Pre-approval webhook '" + vals[k].name + "' responded: eligible", k, ""}
	}
	notEligible := func(k string) entry {
		return entry{"pre_approval_not_eligible", "Request flagged for manual review by pre-approval webhooks. Webhook '" + vals[k].name + "' responded: not eligible", k, ""}
	}
	failed := func(k string) []entry {
		return []entry{
			{"pre_approval_webhook_failed", "Pre-approval webhook '" + vals[k].name + "' failed after 2 attempts: HTTP 500", k, ""},
			{"status_changed", "Status changed from awaiting_pre_approval to pending", k, ""},
		}
	}
	autoApproved := func(k string) entry {
		return entry{"approved", "Request auto-approved by pre-approval webhooks", k, ""}
	}
	adminApproved := entry{"approved", "", "", "local-admin"}
	adminDenied := entry{"denied", adminReason, "", "local-admin"}
	ok := func(hook, answer string) journeyReply { return journeyReply{hook: hook, answer: answer, status: 200} }
	notAwaiting := func(hook, answer string) journeyReply {
		return journeyReply{hook, answer, 400, "Privacy request with id '{id}' is not in pending or awaiting pre-approval status."}
	}

	cases := []journeyCase{
		{name: "auto_approved", sys: manual, hooks: all, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible"), ok("val_b", "eligible"), ok("val_b", "eligible"), ok("val_c", "eligible")},
			hold:    "approved", final: "approved",
			late: []journeyReply{notAwaiting("val_a", "not-eligible")},
			head: []entry{triggered}, deliveries: calledAll,
			tail: []entry{eligible("val_a"), eligible("val_b"), eligible("val_c"), autoApproved("val_c")}},
		{name: "not_eligible_admin_approves", sys: manual, hooks: all, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible"), ok("val_b", "not-eligible"), notAwaiting("val_c", "eligible")},
			hold:    "pre_approval_not_eligible", decide: "approve", final: "approved",
			head: []entry{triggered}, deliveries: calledAll,
			tail: []entry{eligible("val_a"), notEligible("val_b"), adminApproved}},
		{name: "not_eligible_admin_denies", sys: manual, hooks: all, admit: "awaiting_pre_approval",
			// The repeat is idempotent although the request left awaiting.
			replies: []journeyReply{ok("val_c", "not-eligible"), ok("val_c", "not-eligible")},
			hold:    "pre_approval_not_eligible", decide: "deny", final: "denied",
			late: []journeyReply{notAwaiting("val_a", "eligible")},
			head: []entry{triggered}, deliveries: calledAll,
			tail: []entry{notEligible("val_c"), adminDenied}},
		{name: "failed_then_others_eligible_admin_approves", sys: manual, hooks: all, fail: []string{"val_b"}, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible"), ok("val_c", "eligible")},
			hold:    "pending", decide: "approve", final: "approved",
			head: []entry{triggered}, deliveries: append([]entry{called("val_a"), called("val_c")}, failed("val_b")...),
			tail: []entry{eligible("val_a"), eligible("val_c"), adminApproved}},
		{name: "failed_validator_still_replies_eligible", sys: manual, hooks: all, fail: []string{"val_a"}, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_b", "eligible"), ok("val_c", "eligible"), ok("val_a", "eligible")},
			hold:    "approved", final: "approved",
			head: []entry{triggered}, deliveries: append([]entry{called("val_b"), called("val_c")}, failed("val_a")...),
			tail: []entry{eligible("val_b"), eligible("val_c"), eligible("val_a"), autoApproved("val_a")}},
		{name: "failed_then_not_eligible_admin_denies", sys: manual, hooks: all, fail: []string{"val_c"}, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "not-eligible")},
			hold:    "pre_approval_not_eligible", decide: "deny", final: "denied",
			head: []entry{triggered}, deliveries: append([]entry{called("val_a"), called("val_b")}, failed("val_c")...),
			tail: []entry{notEligible("val_a"), adminDenied}},
		{name: "silent_validator_waits_for_admin", sys: manual, hooks: all, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible"), ok("val_a", "eligible"), ok("val_b", "eligible"),
				{"val_a", "not-eligible", 400, "Pre-approval webhook 'val_a' already replied for privacy request '{id}'."}},
			hold: "awaiting_pre_approval", decide: "approve", final: "approved",
			late: []journeyReply{notAwaiting("val_c", "eligible"), notAwaiting("val_c", "not-eligible")},
			head: []entry{triggered}, deliveries: calledAll,
			tail: []entry{eligible("val_a"), eligible("val_b"), adminApproved}},
		{name: "silent_validators_admin_denies", sys: manual, hooks: all, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible")},
			hold:    "awaiting_pre_approval", decide: "deny", final: "denied",
			late: []journeyReply{notAwaiting("val_b", "eligible"), notAwaiting("val_c", "not-eligible")},
			head: []entry{triggered}, deliveries: calledAll,
			tail: []entry{eligible("val_a"), adminDenied}},
		{name: "failed_then_others_eligible_admin_denies", sys: manual, hooks: all, fail: []string{"val_b"}, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_a", "eligible"), ok("val_c", "eligible")},
			hold:    "pending", decide: "deny", final: "denied",
			late: []journeyReply{notAwaiting("val_b", "eligible")},
			head: []entry{triggered}, deliveries: append([]entry{called("val_a"), called("val_c")}, failed("val_b")...),
			tail: []entry{eligible("val_a"), eligible("val_c"), adminDenied}},
		{name: "one_webhook_eligible", sys: manual, hooks: []string{"val_b"}, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_b", "eligible")},
			hold:    "approved", final: "approved",
			head: []entry{{"pre_approval_webhook_triggered", "Triggered pre-approval webhooks: Validator B", "", ""}}, deliveries: []entry{called("val_b")},
			tail: []entry{eligible("val_b"), autoApproved("val_b")}},
		{name: "no_webhooks_admin_approves", sys: manual, hooks: nil, admit: "pending",
			hold: "pending", decide: "approve", final: "approved",
			head: []entry{{"status_changed", "Request submitted: awaiting manual review", "", ""}, adminApproved}},
		{name: "no_webhooks_admin_denies", sys: manual, hooks: nil, admit: "pending",
			hold: "pending", decide: "deny", final: "denied",
			head: []entry{{"status_changed", "Request submitted: awaiting manual review", "", ""}, adminDenied}},
		{name: "consent_never_held", sys: manual, policy: "default_consent_policy", hooks: all, admit: "approved",
			hold: "approved", final: "approved",
			head: []entry{{"approved", "Request auto-approved: manual approval not required", "", ""}}},
		{name: "manual_approval_off", sys: automatic, hooks: all, admit: "approved",
			hold: "approved", final: "approved",
			head: []entry{{"approved", "Request auto-approved: manual approval not required", "", ""}}},
		{name: "identity_verified_then_eligible", sys: verifying, hooks: all, verify: true, admit: "awaiting_pre_approval",
			replies: []journeyReply{ok("val_c", "eligible"), ok("val_a", "eligible"), ok("val_b", "eligible")},
			hold:    "approved", final: "approved",
			head:       []entry{{"status_changed", "Request submitted: identity verification code sent", "", ""}, {"identity_verified", "Identity verified", "", ""}, triggered},
			deliveries: calledAll,
			tail:       []entry{eligible("val_c"), eligible("val_a"), eligible("val_b"), autoApproved("val_b")}},
		{name: "identity_verified_consent", sys: verifying, policy: "default_consent_policy", hooks: all, verify: true, admit: "approved",
			hold: "approved", final: "approved",
			head: []entry{{"status_changed", "Request submitted: identity verification code sent", "", ""}, {"identity_verified", "Identity verified", "", ""},
				{"approved", "Request auto-approved: manual approval not required", "", ""}}},
		{name: "identity_verified_no_webhooks", sys: verifying, hooks: nil, verify: true, admit: "pending",
			hold: "pending", decide: "deny", final: "denied",
			head: []entry{{"status_changed", "Request submitted: identity verification code sent", "", ""}, {"identity_verified", "Identity verified", "", ""},
				{"status_changed", "Request submitted: awaiting manual review", "", ""}, adminDenied}},
	}
	// The systems run side by side. On each, the cases that share a webhook
	// set run at once, the sets one after another. Goroutines, not
	// t.Parallel: -parallel would cap them at GOMAXPROCS, yet they mostly wait.
	var ids sync.Map // case name -> request id
	for _, s := range []*journeySystem{manual, verifying, automatic} {
		mine := slices.DeleteFunc(slices.Clone(cases), func(c journeyCase) bool { return c.sys != s })
		wg.Go(func() {
			t.Run(s.name, func(t *testing.T) {
				for len(mine) > 0 {
					hooks := mine[0].hooks
					group := slices.DeleteFunc(slices.Clone(mine), func(c journeyCase) bool { return !slices.Equal(c.hooks, hooks) })
					mine = slices.DeleteFunc(mine, func(c journeyCase) bool { return slices.Equal(c.hooks, hooks) })
					s.configure(t, vals, hooks)
					set := "no_webhooks"
					if len(hooks) > 0 {
						set = "webhooks=" + strings.Join(hooks, ",")
					}
					t.Run(set, func(t *testing.T) {
						var g sync.WaitGroup
						for _, tc := range group {
							g.Go(func() { t.Run(tc.name, func(t *testing.T) { ids.Store(tc.name, runJourney(t, tc, vals)) }) })
						}
						g.Wait()
					})
				}
				s.drainApproved(t)
			})
		})
	}
	wg.Wait()
	checkJourneyLogs(t, vals, manual, verifying, automatic)

	// Every approval put exactly one message on the approved queue; nothing else did.
	for _, tc := range cases {
		v, ok := ids.Load(tc.name)
		if !ok {
			continue // its subtest failed already
		}
		id := v.(string)
		msgs := tc.sys.approvedMessages(id)
		if tc.final != "approved" {
			if len(msgs) != 0 {
				t.Errorf("%s: approved-queue messages for a %s request: %+v", tc.name, tc.final, msgs)
			}
			continue
		}
		wantBy := ""
		if tc.decide == "approve" {
			wantBy = "local-admin"
		}
		policy := "access"
		if tc.policy == "default_consent_policy" {
			policy = "consent"
		}
		if len(msgs) != 1 || msgs[0].PolicyAction != policy || aws.ToString(msgs[0].ApprovedBy) != wantBy || msgs[0].ApprovedAt == "" {
			t.Errorf("%s: approved-queue messages %+v, want one for %s by %q", tc.name, msgs, policy, wantBy)
		}
	}
}

// checkJourneyLogs fails for any log line of the journey holding a secret:
// a connection's authorization or header value, a signing secret, an admin
// token, a reply token or signature a validator received, a verification code.
func checkJourneyLogs(t *testing.T, vals map[string]*fakeValidator, systems ...*journeySystem) {
	t.Helper()
	secrets := map[string]string{}
	for k, v := range vals {
		secrets["Bearer val-"+k] = "connection authorization of " + k
		secrets["hdr-"+k] = "connection header of " + k
		v.mu.Lock()
		for _, calls := range v.got {
			for _, c := range calls {
				secrets[c.header.Get("reply-to-token")] = "reply token"
				secrets[c.header.Get("webhook-signature")] = "webhook signature"
			}
		}
		v.mu.Unlock()
	}
	var codes []string
	for _, s := range systems {
		secrets[strings.TrimPrefix(s.auth, "Bearer ")] = "admin token"
		for _, sec := range s.secrets {
			secrets[sec] = "signing secret"
			secrets[strings.TrimPrefix(sec, "whsec_")] = "signing key"
		}
		codes = append(codes, s.codes...)
	}
	delete(secrets, "")
	if len(codes) == 0 {
		t.Error("no verification code was read: the log check would not cover codes")
	}
	// A code standing alone: not a timestamp's microseconds, not part of an id.
	codePatterns := make([]*regexp.Regexp, len(codes))
	for i, code := range codes {
		codePatterns[i] = regexp.MustCompile(`(^|[^.\w])` + code + `($|\W)`)
	}
	logs := journeyLogs.String()
	if strings.Count(logs, "\n") < 100 {
		t.Fatalf("only %d log lines captured", strings.Count(logs, "\n"))
	}
	for _, line := range strings.Split(logs, "\n") {
		for sec, what := range secrets {
			if strings.Contains(line, sec) {
				t.Errorf("a %s reached a log line: %.200s", what, line)
			}
		}
		for _, code := range codePatterns {
			if code.MatchString(line) {
				t.Errorf("a verification code reached a log line: %.200s", line)
			}
		}
	}
}

// runJourney drives one case and returns its request id.
func runJourney(t *testing.T, tc journeyCase, vals map[string]*fakeValidator) string {
	s := tc.sys

	for _, k := range tc.fail {
		vals[k].failFor(tc.name)
	}
	policy := tc.policy
	if policy == "" {
		policy = "default_access_policy"
	}
	email := strings.ReplaceAll(tc.name, "_", "-") + "@example.com"
	var sub struct {
		Succeeded []journeyRequest `json:"succeeded"`
	}
	s.must(t, 200, "POST", "/privacy-request", "", []map[string]any{{"identity": map[string]string{"email": email},
		"policy_key": policy, "external_id": tc.name}}, &sub)
	if len(sub.Succeeded) != 1 {
		t.Fatalf("submit: %+v", sub)
	}
	id := sub.Succeeded[0].ID
	if tc.verify {
		if sub.Succeeded[0].Status != "identity_unverified" {
			t.Fatalf("submitted request is %s, want identity_unverified", sub.Succeeded[0].Status)
		}
		s.must(t, 403, "POST", "/privacy-request/"+id+"/verify", "", map[string]string{"code": "000000x"}, nil)
		var verified journeyRequest
		s.must(t, 200, "POST", "/privacy-request/"+id+"/verify", "", map[string]string{"code": s.code(t, email)}, &verified)
		if verified.Status != tc.admit || verified.IdentityVerifiedAt == nil {
			t.Fatalf("verified request: %+v, want %s", verified, tc.admit)
		}
	} else if sub.Succeeded[0].Status != tc.admit {
		t.Fatalf("submitted request is %s, want %s", sub.Succeeded[0].Status, tc.admit)
	}

	// Deliveries settle: every validator was called, each failing one
	// WEBHOOK_MAX_ATTEMPTS times; the request records each outcome.
	calls := map[string][]validatorCall{}
	if tc.admit == "awaiting_pre_approval" {
		waitUntil(t, 30*time.Second, func() bool {
			r := s.request(t, id)
			for _, w := range r.Webhooks {
				if w.State == "pending" {
					return false
				}
			}
			return len(r.Webhooks) == len(tc.hooks)
		})
		r := s.request(t, id)
		for _, k := range tc.hooks {
			i := slices.IndexFunc(r.Webhooks, func(w webhookState) bool { return w.Key == k })
			if i < 0 {
				t.Fatalf("%s is not in the snapshot %+v", k, r.Webhooks)
			}
			w := r.Webhooks[i]
			wantState, wantAttempts := "called", 1
			if slices.Contains(tc.fail, k) {
				wantState, wantAttempts = "failed", journeyAttempts
			}
			if w.State != wantState || w.Attempts != wantAttempts {
				t.Fatalf("webhook %d of %+v, want %s %s after %d attempts", i, r.Webhooks, k, wantState, wantAttempts)
			}
			calls[k] = vals[k].calls(id)
			if len(calls[k]) != wantAttempts {
				t.Fatalf("%s called %d times, want %d", k, len(calls[k]), wantAttempts)
			}
			for _, c := range calls[k] {
				s.checkValidatorInput(t, c, id, k, tc)
			}
		}
	}
	for _, k := range []string{"val_a", "val_b", "val_c"} {
		if !slices.Contains(tc.hooks, k) || tc.admit != "awaiting_pre_approval" {
			if n := len(vals[k].calls(id)); n != 0 {
				t.Fatalf("%s called %d times for a request that calls no validator", k, n)
			}
		}
	}

	s.reply(t, id, calls, tc.replies)
	if got := s.request(t, id).Status; got != tc.hold {
		t.Fatalf("status after the replies: %s, want %s", got, tc.hold)
	}
	switch tc.decide {
	case "approve", "deny":
		body := map[string]any{"request_ids": []string{id}}
		if tc.decide == "deny" {
			body["reason"] = adminReason
		}
		var res struct {
			Succeeded []journeyRequest `json:"succeeded"`
			Failed    []any            `json:"failed"`
		}
		s.must(t, 200, "PATCH", "/privacy-request/administrate/"+tc.decide, s.auth, body, &res)
		if len(res.Succeeded) != 1 || res.Succeeded[0].Status != tc.final || aws.ToString(res.Succeeded[0].ReviewedBy) != "local-admin" {
			t.Fatalf("%s: %+v", tc.decide, res)
		}
		// A decided request never moves again.
		for _, again := range []string{"approve", "deny"} {
			var res2 struct {
				Failed []struct {
					Message string `json:"message"`
				} `json:"failed"`
			}
			s.must(t, 200, "PATCH", "/privacy-request/administrate/"+again, s.auth, map[string]any{"request_ids": []string{id}}, &res2)
			if len(res2.Failed) != 1 || res2.Failed[0].Message != "Cannot transition status" {
				t.Fatalf("second %s: %+v", again, res2)
			}
		}
	}
	s.reply(t, id, calls, tc.late)
	if got := s.request(t, id).Status; got != tc.final {
		t.Fatalf("final status %s, want %s", got, tc.final)
	}

	got := s.timeline(t, id)
	want := append(append(slices.Clone(tc.head), tc.deliveries...), tc.tail...)
	if len(got) != len(want) {
		t.Fatalf("timeline:\n got %+v\nwant %+v", got, want)
	}
	n, m := len(tc.head), len(tc.head)+len(tc.deliveries)
	sortEntries := func(es []entry) []entry {
		es = slices.Clone(es)
		slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.action+a.hook+a.message, b.action+b.hook+b.message) })
		return es
	}
	if !reflect.DeepEqual(got[:n], want[:n]) || !reflect.DeepEqual(sortEntries(got[n:m]), sortEntries(want[n:m])) || !reflect.DeepEqual(got[m:], want[m:]) {
		t.Fatalf("timeline:\n got %+v\nwant %+v", got, want)
	}
	if tc.final == "approved" {
		waitUntil(t, 20*time.Second, func() bool { s.drainApproved(t); return len(s.approvedMessages(id)) > 0 })
	}
	return id
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// code reads the verification code last mailed to email from the local outbox.
func (s *journeySystem) code(t *testing.T, email string) string {
	t.Helper()
	var out struct {
		Items []local.OutboxMail `json:"items"`
	}
	s.must(t, 200, "GET", "/local/outbox", "", nil, &out)
	code := ""
	for _, m := range out.Items {
		if slices.Contains(m.To, email) {
			code = sixDigits.FindString(m.Body)
		}
	}
	if code == "" {
		t.Fatalf("no code for %s in the outbox %+v", email, out.Items)
	}
	s.mu.Lock()
	s.codes = append(s.codes, code)
	s.mu.Unlock()
	return code
}

// reply sends each validator's answer as a validator does: the base URL and
// path from its call's headers, its reply token, body {}.
func (s *journeySystem) reply(t *testing.T, id string, calls map[string][]validatorCall, replies []journeyReply) {
	t.Helper()
	for _, r := range replies {
		cs := calls[r.hook]
		if len(cs) == 0 {
			t.Fatalf("%s was never called, so it cannot reply", r.hook)
		}
		h := cs[len(cs)-1].header
		status, raw := journeyCall(t, "POST", h.Get("reply-to-base-url")+h.Get("reply-to-"+r.answer), "Bearer "+h.Get("reply-to-token"), map[string]any{})
		detail := strings.ReplaceAll(r.detail, "{id}", id)
		if r.status == 200 {
			expectReply(t, r.hook+" "+r.answer, status, raw, 200, "")
		} else {
			expectReply(t, r.hook+" "+r.answer, status, raw, r.status, detail)
		}
	}
}

// checkValidatorInput holds one call to a validator: headers and body.
func (s *journeySystem) checkValidatorInput(t *testing.T, c validatorCall, id, hook string, tc journeyCase) {
	t.Helper()
	c.check(t, s.sys.URL, s.secrets[hook], wantCall{id: id, hook: hook,
		email: strings.ReplaceAll(tc.name, "_", "-") + "@example.com", externalID: tc.name, verified: tc.verify})
}

package validator_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
)

type handlerFixture struct {
	gate    *fakeGate
	handler *validator.Handler
	decided atomic.Int32
	logs    *bytes.Buffer
}

// newHandler is a Handler for vecSecret whose Decide answers d (or err),
// replying to a fake gate that answers statuses.
func newHandler(t *testing.T, d validator.Decision, err error, statuses ...int) *handlerFixture {
	t.Helper()
	f := &handlerFixture{gate: newFakeGate(t, statuses...), logs: &bytes.Buffer{}}
	v, verr := validator.NewVerifier(vecSecret)
	if verr != nil {
		t.Fatal(verr)
	}
	f.handler = &validator.Handler{
		Verifier: v,
		Decide: func(ctx context.Context, c *validator.Call) (validator.Decision, error) {
			f.decided.Add(1)
			if c.Identity.Email != "ada@example.com" {
				t.Errorf("Decide got %+v", c)
			}
			return d, err
		},
		Replier: fastReplier,
		Log:     slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	t.Cleanup(f.handler.Wait) // before the fake gate closes
	return f
}

// serve sends the gate's call (edited by edit) to the handler and returns its status.
func (f *handlerFixture) serve(edit func(r *http.Request)) int {
	r := gateCall(f.gate.srv.URL+"/api/v1", "/hook", vecSecret, "pri_1", "ada@example.com", time.Now())
	if edit != nil {
		edit(r)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w.Code
}

func TestHandlerAcknowledgesThenRepliesInTheBackground(t *testing.T) {
	f := newHandler(t, validator.NotEligible, nil, 503, 200)
	if code := f.serve(nil); code != http.StatusAccepted {
		t.Fatalf("status %d", code)
	}
	f.handler.Wait()
	got := f.gate.replies()
	if len(got) != 2 || got[1] != "POST /api/v1/privacy-request/pri_1/pre-approve/not-eligible Bearer reply-token application/json {}" {
		t.Fatalf("replies %q", got)
	}
	if strings.Contains(f.logs.String(), "reply-token") || !strings.Contains(f.logs.String(), `"privacy_request_id":"pri_1"`) {
		t.Fatalf("logs %s", f.logs)
	}
}

// The background answer outlives the call's context, which ends with the response.
func TestHandlerAnswerOutlivesTheCall(t *testing.T) {
	f := newHandler(t, validator.Eligible, nil, 200)
	ctx, cancel := context.WithCancel(context.Background())
	f.handler.Decide = func(context.Context, *validator.Call) (validator.Decision, error) {
		cancel() // as net/http does once ServeHTTP returns
		return validator.Eligible, nil
	}
	if code := f.serve(func(r *http.Request) { *r = *r.WithContext(ctx) }); code != http.StatusAccepted {
		t.Fatalf("status %d", code)
	}
	f.handler.Wait()
	if n := len(f.gate.replies()); n != 1 {
		t.Fatalf("%d replies, want 1", n)
	}
}

func TestHandlerRefusesBadCalls(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *http.Request)
		want int
	}{
		{"bad signature", func(r *http.Request) { r.Header.Set("webhook-signature", "v1,AAAA") }, 401},
		{"stale", func(r *http.Request) { r.Header.Set("webhook-timestamp", "1614265330") }, 401},
		{"tampered body", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"privacy_request_id":"pri_2"}`))
		}, 401},
		{"no reply token", func(r *http.Request) { r.Header.Del("reply-to-token") }, 400},
		{"too large", func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(make([]byte, validator.DefaultMaxBodyBytes+1)))
		}, 413},
		{"not a POST", func(r *http.Request) { r.Method = http.MethodGet }, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandler(t, validator.Eligible, nil, 200)
			if code := f.serve(tt.edit); code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			f.handler.Wait()
			if f.decided.Load() != 0 || len(f.gate.replies()) != 0 {
				t.Fatal("a refused call was decided or answered")
			}
		})
	}
}

func TestHandlerSync(t *testing.T) {
	tests := []struct {
		name        string
		decision    validator.Decision
		err         error
		gate        int
		wantStatus  int
		wantReplies int
	}{
		{"answer accepted", validator.Eligible, nil, 200, 200, 1},
		{"answer refused", validator.Eligible, nil, 403, 500, 1},
		{"decision failed", 0, errors.New("CRM down"), 200, 500, 0},
		{"later", validator.Later, nil, 200, 202, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandler(t, tt.decision, tt.err, tt.gate)
			f.handler.Sync = true
			if code := f.serve(nil); code != tt.wantStatus {
				t.Fatalf("status %d, want %d", code, tt.wantStatus)
			}
			// Sync: the answer is sent before ServeHTTP returns; no Wait.
			if n := len(f.gate.replies()); n != tt.wantReplies {
				t.Fatalf("%d replies, want %d", n, tt.wantReplies)
			}
		})
	}
}

func TestHandlerLaterSendsNothing(t *testing.T) {
	f := newHandler(t, validator.Later, nil, 200)
	if code := f.serve(nil); code != http.StatusAccepted {
		t.Fatalf("status %d", code)
	}
	f.handler.Wait()
	if f.decided.Load() != 1 || len(f.gate.replies()) != 0 {
		t.Fatalf("decided %d, replies %q", f.decided.Load(), f.gate.replies())
	}
}

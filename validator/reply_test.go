package validator_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/validator"
)

// fakeGate answers the reply routes with statuses in turn (the last one
// repeats) and records what it received.
type fakeGate struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []string // method, path, Authorization, Content-Type and body of each reply
}

func newFakeGate(t *testing.T, statuses ...int) *fakeGate {
	t.Helper()
	g := &fakeGate{statuses: statuses}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.got = append(g.got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(body))
		status := g.statuses[min(len(g.got), len(g.statuses))-1]
		g.mu.Unlock()
		w.WriteHeader(status)
		switch status {
		case 200:
			_, _ = io.WriteString(w, "null")
		case 403:
			_, _ = io.WriteString(w, `{"detail": "Not Authorized for this action"}`)
		default:
			_, _ = io.WriteString(w, "upstream trouble")
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGate) replies() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got...)
}

func (g *fakeGate) replyTo() validator.ReplyTo {
	return validator.ReplyTo{BaseURL: g.srv.URL + "/api/v1/", EligiblePath: "/privacy-request/pri_1/pre-approve/eligible",
		NotEligiblePath: "/privacy-request/pri_1/pre-approve/not-eligible", Token: "tok"}
}

var fastReplier = &validator.Replier{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

func TestReplyRetriesServerErrorsThenSucceeds(t *testing.T) {
	g := newFakeGate(t, 503, 429, 200)
	if err := fastReplier.Reply(context.Background(), g.replyTo(), validator.NotEligible); err != nil {
		t.Fatal(err)
	}
	want := "POST /api/v1/privacy-request/pri_1/pre-approve/not-eligible Bearer tok application/json {}"
	got := g.replies()
	if len(got) != 3 || got[0] != want || got[2] != want {
		t.Fatalf("replies %q, want 3 × %q", got, want)
	}
}

func TestReplyGivesUpAfterMaxAttempts(t *testing.T) {
	g := newFakeGate(t, 503)
	err := fastReplier.Reply(context.Background(), g.replyTo(), validator.Eligible)
	var re *validator.ReplyError
	if !errors.As(err, &re) || re.StatusCode != 503 || re.Attempts != 4 || re.Body != "upstream trouble" || re.Decision != validator.Eligible {
		t.Fatalf("err = %#v", err)
	}
	if n := len(g.replies()); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
}

func TestReplyDoesNotRetryRefusals(t *testing.T) {
	for _, status := range []int{400, 403, 404} {
		g := newFakeGate(t, status, 200)
		err := fastReplier.Reply(context.Background(), g.replyTo(), validator.Eligible)
		var re *validator.ReplyError
		if !errors.As(err, &re) || re.StatusCode != status || re.Attempts != 1 {
			t.Fatalf("HTTP %d: err = %#v", status, err)
		}
		if status == 403 && (re.Detail != "Not Authorized for this action" || re.Error() != "validator: reply eligible failed after 1 attempt(s): HTTP 403: Not Authorized for this action") {
			t.Fatalf("403: %#v %q", re, re.Error())
		}
		if n := len(g.replies()); n != 1 {
			t.Fatalf("HTTP %d: %d attempts, want 1", status, n)
		}
	}
}

func TestReplyRetriesNetworkErrors(t *testing.T) {
	g := newFakeGate(t, 200)
	to := g.replyTo()
	g.srv.Close() // nothing listens any more: connection refused
	err := fastReplier.Reply(context.Background(), to, validator.Eligible)
	var re *validator.ReplyError
	if !errors.As(err, &re) || re.StatusCode != 0 || re.Attempts != 4 || re.Err == nil {
		t.Fatalf("err = %#v", err)
	}
}

func TestReplyStopsWithTheContext(t *testing.T) {
	g := newFakeGate(t, 503)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	slow := &validator.Replier{BaseDelay: time.Hour}
	start := time.Now()
	err := slow.Reply(ctx, g.replyTo(), validator.Eligible)
	var re *validator.ReplyError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &re) || re.StatusCode != 503 || re.Attempts != 1 {
		t.Fatalf("err = %#v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned after %s", d)
	}
}

func TestReplyRefusesANonAnswer(t *testing.T) {
	g := newFakeGate(t, 200)
	for _, d := range []validator.Decision{0, validator.Later} {
		if err := fastReplier.Reply(context.Background(), g.replyTo(), d); err == nil {
			t.Fatalf("%v sent", d)
		}
	}
	if n := len(g.replies()); n != 0 {
		t.Fatalf("%d replies sent", n)
	}
}

package local_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
)

// With REVIEW_DEADLINE=2s (its own local system): a request whose validator
// took the call but never replied moves to pending with an entry naming the
// silent webhook, not the one that replied; the late reply still counts.
func TestReviewDeadlineMovesSilentRequestsToPending(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var metricLines lockedBuffer
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"),
		Env: map[string]string{"REVIEW_DEADLINE": "2s"}, Metrics: &metricLines})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	c := adminOf(t, sys)

	silent, answering := newValidator(t, 202), newValidator(t, 202)
	var set []map[string]any
	for name, v := range map[string]*validator{"Silent": silent, "Answering": answering} {
		conn := unique("conn")
		c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
		c.must(200, "PUT", "/connection/"+conn+"/secret", map[string]any{"url": v.srv.URL + "/hook", "authorization": "Bearer x"}, nil)
		set = append(set, map[string]any{"key": strings.ToLower(name), "name": name, "connection_config_key": conn})
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", set, nil)

	id, _ := c.submit()
	waitUntil(t, 30*time.Second, func() bool { return len(silent.received()) == 1 && len(answering.received()) == 1 })
	replyEligible(t, answering.received()[0].header)

	var got dispatchedRequest
	waitUntil(t, 30*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return got.Status != "awaiting_pre_approval"
	})
	if got.Status != "pending" {
		t.Fatalf("after the deadline: status %s, want pending", got.Status)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	var entries []string
	for _, e := range withAction(act, "status_changed") {
		if e.Message != nil {
			entries = append(entries, *e.Message)
		}
	}
	want := "Review deadline of 2s passed with no reply from pre-approval webhooks: Silent"
	if len(entries) != 1 || entries[0] != want {
		t.Fatalf("status_changed entries %q, want exactly [%q]", entries, want)
	}

	// The stream saw the move (the template's filter lets decisions through).
	waitUntil(t, 10*time.Second, func() bool { return strings.Contains(metricLines.String(), `"decision":"pending_after_deadline"`) })

	// The silent validator answers at last: every webhook said eligible.
	replyEligible(t, silent.received()[0].header)
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "approved" {
		t.Fatalf("after the late reply: status %s, want approved", got.Status)
	}
}

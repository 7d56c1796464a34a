package local_test

import (
	"strings"
	"testing"
	"time"
)

// Each validator fault ends with the webhook failed, the request pending and
// a timeline entry naming the attempts; 410 is not retried, a redirect is
// never followed, a refused connection is retried like any failure.
func TestDispatcherFaults(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		refused  bool
		attempts int
		reason   string
	}{
		{"410 gone: no retry", 410, false, 1, "HTTP 410"},
		{"302 redirect: not followed", 302, false, 3, "302"},
		{"connection refused", 200, true, 3, "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := admin(t)
			v := newValidator(t, tc.status)
			hook := unique("fault")
			c.validatorWebhook(v, hook)
			if tc.refused {
				v.srv.Close() // the connection's URL now refuses
			}
			id, _ := c.submit()
			var got dispatchedRequest
			waitUntil(t, 30*time.Second, func() bool {
				c.must(200, "GET", "/privacy-request/"+id, nil, &got)
				return len(got.Webhooks) == 1 && got.Webhooks[0].State == "failed"
			})
			if got.Status != "pending" || got.Webhooks[0].Attempts != tc.attempts {
				t.Fatalf("request: %+v, want pending after %d attempts", got, tc.attempts)
			}
			if !tc.refused && len(v.received()) != tc.attempts {
				t.Fatalf("validator called %d times, want %d", len(v.received()), tc.attempts)
			}
			var act activityOut
			c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
			prefix := "Pre-approval webhook 'Hook " + hook + "' failed after "
			found := false
			for _, e := range act.Items {
				m := deref(e.Message)
				if e.Action == "pre_approval_webhook_failed" && strings.HasPrefix(m, prefix) && strings.Contains(m, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no failed entry with %q in %+v", tc.reason, act.Items)
			}
		})
	}
}

package local_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
)

// With WEBHOOK_TIMEOUT=300ms (its own local system): a validator slower than
// that fails every attempt with a timeout; one slower than instant but inside
// it is delivered.
func TestDispatcherTimeouts(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"),
		Env: map[string]string{"WEBHOOK_TIMEOUT": "300ms"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	c := adminOf(t, sys)

	cases := []struct {
		name  string
		delay time.Duration
		state string
	}{
		{"slow but in time", 100 * time.Millisecond, "called"},
		{"too slow", 1 * time.Second, "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &validator{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(tc.delay):
				case <-r.Context().Done():
				}
				w.WriteHeader(http.StatusAccepted)
			}))}
			t.Cleanup(v.srv.Close)
			hook := unique("slow")
			c.validatorWebhook(v, hook)
			id, _ := c.submit()
			var got dispatchedRequest
			waitUntil(t, 30*time.Second, func() bool {
				c.must(200, "GET", "/privacy-request/"+id, nil, &got)
				return len(got.Webhooks) == 1 && (got.Webhooks[0].State == "called" || got.Webhooks[0].State == "failed")
			})
			if got.Webhooks[0].State != tc.state {
				t.Fatalf("state %s, want %s", got.Webhooks[0].State, tc.state)
			}
			if tc.state == "failed" {
				var act activityOut
				c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
				found := false
				for _, e := range act.Items {
					if e.Action == "pre_approval_webhook_failed" && strings.Contains(deref(e.Message), "timeout") {
						found = true
					}
				}
				if !found || got.Status != "pending" {
					t.Fatalf("status %s, timeline %+v", got.Status, act.Items)
				}
			}
		})
	}
}

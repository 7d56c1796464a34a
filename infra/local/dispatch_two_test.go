package local_test

import (
	"testing"
	"time"
)

// One of two validators failing never stops the other: it is still called,
// its reply is still taken (the request is pending after the failure), and
// the request waits for an admin since the failed webhook never said eligible.
func TestOneFailingValidatorDoesNotStopTheOther(t *testing.T) {
	c := admin(t)
	failing, healthy := newValidator(t, 500), newValidator(t, 202)
	var set []map[string]any
	keys := map[*validator]string{failing: unique("bad"), healthy: unique("good")}
	for v, key := range keys {
		conn := unique("conn")
		c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
		c.must(200, "PUT", "/connection/"+conn+"/secret", map[string]any{"url": v.srv.URL + "/hook", "authorization": "Bearer x"}, nil)
		set = append(set, map[string]any{"key": key, "name": "Hook " + key, "connection_config_key": conn})
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", set, nil)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })

	id, _ := c.submit()
	var got dispatchedRequest
	states := func() map[string]string {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		m := map[string]string{}
		for _, w := range got.Webhooks {
			m[w.Key] = w.State
		}
		return m
	}
	waitUntil(t, 30*time.Second, func() bool {
		s := states()
		return s[keys[failing]] == "failed" && s[keys[healthy]] == "called"
	})
	if got.Status != "pending" {
		t.Fatalf("after one failed delivery: %+v", got)
	}

	replyEligible(t, healthy.received()[0].header)
	if s := states(); s[keys[healthy]] != "eligible" || got.Status != "pending" {
		t.Fatalf("after the healthy reply: status %s states %v (the failed webhook never said eligible)", got.Status, s)
	}
}

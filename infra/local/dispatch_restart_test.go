package local_test

import (
	"testing"
	"time"
)

// StopDispatcher stops calling validators; StartDispatcher resumes, and the
// delivery queued meanwhile is made once (the soak run kills it this way).
func TestDispatcherStopsAndRestarts(t *testing.T) {
	c := admin(t)
	v := newValidator(t, 200)
	c.validatorWebhook(v, unique("restart"))
	c.sys.StopDispatcher()
	t.Cleanup(c.sys.StartDispatcher) // the shared system's other tests need it
	c.sys.StopDispatcher()           // stopping twice is harmless
	// A long poll whose client has gone still runs its second in the
	// emulator, and takes a message arriving then out of sight for the
	// queue's 360 s visibility timeout (SQS does the same): let it end.
	time.Sleep(1500 * time.Millisecond)

	id, _ := c.submit()
	// Two of the poller's long polls (1 s): a live dispatcher would have called by now.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(v.received()); n != 0 {
			t.Fatalf("validator called %d times while the dispatcher was stopped", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.sys.StartDispatcher()
	c.sys.StartDispatcher() // starting twice runs one set of pollers
	var got dispatchedRequest
	waitUntil(t, 20*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].State == "called"
	})
	if n := len(v.received()); n != 1 {
		t.Fatalf("validator called %d times after the restart, want 1", n)
	}
}

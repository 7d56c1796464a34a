package main

import (
	"testing"
	"time"

	"github.com/pregate/pregate/infra/faults"
)

// TestSoakSmoke runs the soak at a tiny size, with its faults (throttles
// and conflicts among them), fresh handler instances and configuration
// changes, so that `make soak` cannot rot unseen and the gate's promise
// (nothing lost, decided twice, left awaiting or unexplained, and what
// should be approved approved) is held on every `make test`.
//
// The review deadline is long enough for a loaded 2-core machine to deliver
// within it: a shorter one ended requests in pending with deliveries never
// made, which the checker rightly cannot tell from lost ones.
func TestSoakSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	// Secret reads (each fresh instance's first call) and KMS throttled often, and request writes
	// meeting conflicts, so that a tiny run meets them.
	rules, err := faults.ParseRules("*=0.02,UpdateItem:conflict=0.03,GetSecretValue:throttle=0.3,Decrypt:throttle=0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := settings{requests: 12, concurrency: 4, seed: 7, settle: time.Minute, outage: time.Second, pollers: 2, backlog: 150,
		deadline: 10 * time.Second, hang: time.Second, fresh: 0.2, faults: rules}
	start := time.Now()
	got, err := run(cfg)
	t.Logf("soak smoke in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got.failed() || got.stuck != 0 {
		t.Fatalf("lost=%d double_decided=%d stuck=%d unexplained=%d, approved %d of %d that should be:\n%v",
			got.lost, got.double, got.stuck, got.unexplained, got.approved, got.shouldApprove, got.examples)
	}
	if got.coldStarts == 0 || got.throttles == 0 || got.shouldApprove == 0 {
		t.Fatalf("cold_starts=%d throttles=%d, %d requests to approve: the run did not try what it is for", got.coldStarts, got.throttles, got.shouldApprove)
	}
}

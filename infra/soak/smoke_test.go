package main

import (
	"testing"
	"time"

	"github.com/pregate/pregate/infra/faults"
)

// TestSoakSmoke runs the soak at a tiny size, with its faults and
// configuration changes, so that `make soak` cannot rot unseen and the
// gate's promise (nothing lost, decided twice, left awaiting or unexplained)
// is held on every `make test`.
//
// The review deadline is long enough for a loaded 2-core machine to deliver
// within it: a shorter one ended requests in pending with deliveries never
// made, which the checker rightly cannot tell from lost ones.
func TestSoakSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	rules, err := faults.ParseRules("*=0.02")
	if err != nil {
		t.Fatal(err)
	}
	cfg := settings{requests: 12, concurrency: 4, seed: 7, settle: time.Minute, outage: time.Second, pollers: 2, backlog: 150,
		deadline: 10 * time.Second, hang: time.Second, faults: rules}
	start := time.Now()
	got, err := run(cfg)
	t.Logf("soak smoke in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got.lost+got.double+got.stuck+got.unexplained != 0 {
		t.Fatalf("lost=%d double_decided=%d stuck=%d unexplained=%d:\n%v", got.lost, got.double, got.stuck, got.unexplained, got.examples)
	}
}

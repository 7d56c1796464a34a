package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the bench at tiny sizes, without the builds (binary
// size, cold starts): every other figure must be printed, within a bound,
// so that `make bench` cannot rot unseen. The bound catches a hang, not a
// slow machine: the smoke takes 20–50 s on 2 shared cores.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	var out bytes.Buffer
	o := options{runs: 1, concurrency: 2, cpuRequests: 10, requests: map[int]int{1: 2, 3: 2}, validators: []int{3}, maxItemM: 2, timeout: 3 * time.Minute}
	start := time.Now()
	err := run(newReport(&out), o)
	t.Logf("bench smoke in %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range wantedFigures(o) {
		if !strings.Contains(out.String(), "bench: "+name+"=") {
			t.Errorf("figure %s missing", name)
		}
	}
}

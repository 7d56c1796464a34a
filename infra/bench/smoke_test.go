package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the bench at tiny sizes, without the builds (binary
// size, cold starts): every other figure must be printed, in its plausible
// range, within a bound, so that `make bench` cannot rot unseen. The bound catches a hang, not a
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
	got := map[string]float64{}
	for _, line := range strings.Split(out.String(), "\n") {
		if name, value, ok := strings.Cut(strings.TrimPrefix(line, "bench: "), "="); ok && strings.HasPrefix(line, "bench: ") {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Errorf("figure %s: %q is no number", name, value)
			}
			got[name] = v
		}
	}
	for _, name := range wantedFigures(o) {
		v, ok := got[name]
		r, known := plausible[name]
		switch {
		case !ok:
			t.Errorf("figure %s missing", name)
		case !known:
			t.Errorf("figure %s has no plausible range in this test", name)
		case v < r.lo || v > r.hi:
			t.Errorf("figure %s=%v outside its plausible range [%v, %v]", name, v, r.lo, r.hi)
		}
	}
}

// plausible are the ranges a figure of the smoke run (M=3, two requests)
// must lie in: wide enough for a noisy machine, narrow enough that a figure
// measuring nothing (0) or counting twice fails. The request's path makes
// at least M+2 writes and one read, a queue send and a receive per
// delivery, and costs dollars, not cents nor hundreds, per million.
var plausible = map[string]struct{ lo, hi float64 }{
	"cpu_us_per_request_m3":            {50, 1e6},
	"item_kb_max_m50":                  {0.5, 64},
	"ddb_writes_per_approved_m3":       {5, 40},
	"ddb_reads_per_approved_m3":        {1, 40},
	"sqs_calls_per_approved_m3":        {2, 40},
	"kms_calls_per_approved_m3":        {0, 20},
	"e2e_p50_ms_submit_to_approved_m3": {1, 120_000},
	"e2e_p99_ms_submit_to_approved_m3": {1, 120_000},
	"cost_usd_per_million_m3":          {3, 100},
	"ddb_wcu_per_approved_m3":          {5, 60},
	"ddb_rcu_per_approved_m3":          {0.5, 60},
	"delivery_log_wcu_per_approved_m3": {3, 60}, // each call and each reply writes the log
	"delivery_log_rcu_per_approved_m3": {0, 40}, // read only after a delivery fails for good
	"hot_key_wcu_per_s_at_1000rps":     {10, 20_000},
	"hot_key_rcu_per_s_at_1000rps":     {10, 50_000},
	"binary_mb_max":                    {1, 60},
	"init_ratio_vs_hello":              {0.5, 20},
	"init_ms_hello":                    {1, 5_000},
}

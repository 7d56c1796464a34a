// Command bench prints the figures of `make bench` (README "Performance"), one
// "bench: NAME=VALUE" line each, VALUE a number and NAME carrying the unit;
// lines starting with "#" say how a figure was made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pregate/pregate/infra/bench/pipeline"
	"github.com/pregate/pregate/infra/local"
)

func main() {
	runs := flag.Int("runs", 3, "runs per figure; each figure is the median")
	requests := flag.Int("requests", 100, "requests of the M=1 run (one run: the counts barely vary)")
	requestsM10 := flag.Int("m10-requests", 30, "requests of the M=10 run (one run; moto makes each take seconds)")
	e2e := flag.Int("e2e-requests", 100, "requests per M=3 run (counts, latency, cost; -runs runs)")
	concurrency := flag.Int("concurrency", 20, "requests in flight at once")
	initRuns := flag.Int("init-runs", 7, "cold starts per function; the figure is the median")
	arm64Dir := flag.String("arm64", "bin", "make build's output: <LogicalId>/bootstrap for linux/arm64")
	cpuRequests := flag.Int("cpu-requests", 500, "requests per run of the in-process CPU measure")
	rie := flag.String("rie", "", "aws-lambda-rie binary (cold starts are skipped without it)")
	hostDir := flag.String("host", "bin/host", "build for this host: <LogicalId>/bootstrap and Hello/bootstrap")
	validators := flag.String("validators", "1,3,10", "the M (validators per request) of the local-system runs")
	flag.Parse()
	ms, err := parseInts(*validators)
	if err == nil {
		err = run(*runs, map[int]int{1: *requests, 3: *e2e, 10: *requestsM10}, *concurrency, ms, *rie, *hostDir, *initRuns, *arm64Dir, *cpuRequests)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseInts(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of numbers", list)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(runs int, requests map[int]int, concurrency int, validators []int, rie, hostDir string, initRuns int, arm64Dir string, cpuRequests int) error {
	root, err := local.Root()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	fmt.Printf("# each figure is the median of %d runs (cold starts: %d per function; the M=1 and M=10 counts: one run)\n", runs, initRuns)
	if err := sizeFigure(arm64Dir); err != nil {
		return err
	}
	if err := cpuFigure(runs, cpuRequests); err != nil {
		return err
	}
	if rie != "" {
		if err := initFigures(ctx, root, rie, hostDir, initRuns); err != nil {
			return fmt.Errorf("cold starts: %w", err)
		}
	}
	return systemFigures(ctx, root, runs, requests, concurrency, validators)
}

// cpuFigure prints our CPU time per auto-approved request with three
// validators, every handler in one process on in-memory fakes.
func cpuFigure(runs, n int) error {
	var us []float64
	for r := 0; r < runs; r++ {
		d, err := pipeline.CPUPerRequest(3, n)
		if err != nil {
			return err
		}
		us = append(us, float64(d)/float64(time.Microsecond))
	}
	fmt.Printf("# cpu_us_per_request_m3: %d requests a run, user+system CPU (getrusage) inside the invocations, runtime JSON included\n", n)
	fmt.Printf("bench: cpu_us_per_request_m3=%s\n", num(median(us)))
	return nil
}

// systemFigures runs the local system with each M of validators (M=3: runs
// runs on one system; any other M: one run of requests[M], default 100)
// and prints the per-request call counts and, for M=3, the latency and cost
// figures.
func systemFigures(ctx context.Context, root string, runs int, requests map[int]int, concurrency int, validators []int) error {
	figures := map[string][]float64{}
	add := func(name string, v float64) { figures[name] = append(figures[name], v) }
	for _, m := range validators {
		n, ok := requests[m]
		if !ok {
			n = 100
		}
		rounds := 1
		if m == 3 {
			rounds = runs
		}
		start := time.Now()
		results, err := runSystem(ctx, root, m, rounds, n, concurrency)
		if err != nil {
			return fmt.Errorf("local system, M=%d: %w", m, err)
		}
		fmt.Printf("# M=%d: %d run(s) of %d requests, %d at a time, in %s\n", m, rounds, n, concurrency, time.Since(start).Round(time.Second))
		for r, res := range results {
			per := func(calls int) float64 { return float64(calls) / float64(res.N) }
			f := classify(res.Calls)
			if r == 0 && m != 3 {
				fmt.Printf("# M=%d, run 1: DynamoDB writes %.2f, reads %.2f, SQS %.2f, KMS %.2f, other %.2f per request\n",
					m, per(f.DDBWrites), per(f.DDBReads), per(f.SQS), per(f.KMS), per(f.Other))
			}
			add(fmt.Sprintf("ddb_writes_per_approved_m%d", m), per(f.DDBWrites))
			if m != 3 {
				continue
			}
			add("ddb_reads_per_approved_m3", per(f.DDBReads))
			add("sqs_calls_per_approved_m3", per(f.SQS))
			add("kms_calls_per_approved_m3", per(f.KMS))
			add("e2e_p50_ms_submit_to_approved_m3", ms(percentile(res.Latencies, 50)))
			add("e2e_p99_ms_submit_to_approved_m3", ms(percentile(res.Latencies, 99)))
			c := cost(res)
			add("cost_usd_per_million_m3", c.total())
			if r == 0 {
				describeRun(res, c)
			}
		}
	}
	for _, name := range sortedKeys(figures) {
		fmt.Printf("bench: %s=%s\n", name, num(median(figures[name])))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// num prints a figure with up to three decimals, no trailing zeros.
func num(x float64) string {
	s := fmt.Sprintf("%.3f", x)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return trimDot(s)
}

func trimDot(s string) string {
	if s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// Command bench prints the figures of `make bench` (DEVELOPMENT.md "Benchmarks"), one
// "bench: NAME=VALUE" line each, VALUE a number and NAME carrying the unit;
// lines starting with "#" say how a figure was made.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pregate/pregate/infra/bench/pipeline"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
)

// options are the sizes of one bench run.
type options struct {
	runs, concurrency, initRuns, cpuRequests int
	requests                                 map[int]int // requests of the run with M validators
	validators                               []int
	hostDir, arm64Dir                        string
	timeout                                  time.Duration
	maxItemM                                 int // webhooks of the longest request's run (0: none)
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs per figure; each figure is the median")
	requests := flag.Int("requests", 40, "requests of the M=1 run (one run: the counts barely vary)")
	requestsM10 := flag.Int("m10-requests", 15, "requests of the M=10 run (one run; moto makes each take seconds)")
	e2e := flag.Int("e2e-requests", 40, "requests per M=3 run (counts, latency, cost; -runs runs)")
	flag.IntVar(&o.concurrency, "concurrency", 20, "requests in flight at once")
	flag.IntVar(&o.initRuns, "init-runs", 11, "cold starts per function; the figure is the median (0 skips them)")
	flag.StringVar(&o.arm64Dir, "arm64", "bin", "make build's output: <LogicalId>/bootstrap for linux/arm64")
	flag.IntVar(&o.cpuRequests, "cpu-requests", 100, "requests per run of the CPU measure (one at a time, against moto)")
	flag.StringVar(&o.hostDir, "host", "bin/host", "build for this host: <LogicalId>/bootstrap and Hello/bootstrap")
	validators := flag.String("validators", "1,3,10", "the M (validators per request) of the local-system runs")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "the whole run's bound")
	flag.IntVar(&o.maxItemM, "max-item-webhooks", 50, "webhooks of the run that drives the longest request (item_kb_max_m50; 0 skips it)")
	flag.Parse()
	o.requests = map[int]int{1: *requests, 3: *e2e, 10: *requestsM10}
	var err error
	if o.validators, err = parseInts(*validators); err == nil {
		err = run(newReport(os.Stdout), o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// report prints the figures ("bench: NAME=VALUE") and the notes ("# ...")
// and remembers which figures it printed.
type report struct {
	w       io.Writer
	printed map[string]bool
}

func newReport(w io.Writer) *report { return &report{w: w, printed: map[string]bool{}} }

func (r *report) note(format string, args ...any) { fmt.Fprintf(r.w, "# "+format+"\n", args...) }

func (r *report) figure(name string, v float64) {
	r.printed[name] = true
	fmt.Fprintf(r.w, "bench: %s=%s\n", name, num(v))
}

// missing lists the figures of wanted that were not printed.
func (r *report) missing(wanted []string) []string {
	var out []string
	for _, name := range wanted {
		if !r.printed[name] {
			out = append(out, name)
		}
	}
	return out
}

// wantedFigures are the figures a run with o prints; run fails when one is missing.
func wantedFigures(o options) []string {
	out := []string{"cpu_us_per_request_m3"}
	if o.arm64Dir != "" {
		out = append(out, "binary_mb_max")
	}
	if o.initRuns > 0 {
		out = append(out, "init_ratio_vs_hello", "init_ms_hello")
	}
	if o.maxItemM > 0 {
		out = append(out, "item_kb_max_m50")
	}
	for _, m := range o.validators {
		out = append(out, fmt.Sprintf("ddb_writes_per_approved_m%d", m))
		if m == 3 {
			out = append(out, "ddb_reads_per_approved_m3", "sqs_calls_per_approved_m3", "kms_calls_per_approved_m3",
				"e2e_p50_ms_submit_to_approved_m3", "e2e_p99_ms_submit_to_approved_m3", "cost_usd_per_million_m3",
				"ddb_wcu_per_approved_m3", "ddb_rcu_per_approved_m3", "hot_key_wcu_per_s_at_1000rps", "hot_key_rcu_per_s_at_1000rps",
				"delivery_log_wcu_per_approved_m3", "delivery_log_rcu_per_approved_m3")
		}
	}
	return out
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

func run(rep *report, o options) error {
	root, err := local.Root()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rep.note("each figure is the median of %d runs (cold starts: %d per function; the M=1 and M=10 counts: one run)", o.runs, o.initRuns)
	if o.arm64Dir != "" {
		if err := sizeFigure(rep, o.arm64Dir); err != nil {
			return err
		}
	}
	cpu, err := cpuFigure(ctx, rep, root, o.runs, o.cpuRequests)
	if err != nil {
		return err
	}
	if o.initRuns > 0 {
		if err := initFigures(ctx, rep, root, o.hostDir, o.initRuns); err != nil {
			return fmt.Errorf("cold starts: %w", err)
		}
	}
	if err := systemFigures(ctx, rep, root, o, cpu); err != nil {
		return err
	}
	if o.maxItemM > 0 {
		if err := maxItemFigure(ctx, rep, root, o.maxItemM); err != nil {
			return fmt.Errorf("longest request: %w", err)
		}
	}
	if missing := rep.missing(wantedFigures(o)); len(missing) > 0 {
		return fmt.Errorf("figures missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// cpuFigure prints our CPU time per auto-approved request with three
// validators: every handler in one process, through the real DynamoDB and
// SQS adapters, the SDK and its HTTP client, against moto in a process of
// its own, which keeps connections open between calls as AWS does (moto's
// default closes each one, and a new connection per call is work a client
// of AWS does not do). It returns that median, which prices the Lambda
// duration.
func cpuFigure(ctx context.Context, rep *report, root string, runs, n int) (time.Duration, error) {
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return 0, err
	}
	moto, err := stack.StartMoto(ctx, root, stack.MotoOptions{KeepAlive: true})
	if err != nil {
		return 0, err
	}
	defer moto.Stop()
	var us []float64
	for r := 0; r < runs; r++ {
		cfg := awsenv.Emulator(moto.Endpoint)
		st, err := stack.Provision(ctx, cfg, tmpl, fmt.Sprintf("pregate-cpu%d", r))
		if err != nil {
			return 0, err
		}
		d, err := pipeline.CPUPerRequest(ctx, cfg, tmpl, st, 3, n)
		if err != nil {
			return 0, err
		}
		us = append(us, float64(d)/float64(time.Microsecond))
	}
	rt, err := pipeline.FunctionRuntime(tmpl)
	if err != nil {
		return 0, err
	}
	rep.note("cpu_us_per_request_m3: %d requests a run, one at a time, user+system CPU (getrusage) inside the invocations, GOMAXPROCS=%d and GOGC=%d as the template gives the functions: "+
		"runtime JSON, the AWS SDK and its HTTP client against moto (another process, connections kept open as AWS does) included; webhook config and targets in memory, validators answering in process", n, rt.Procs, rt.GCPercent)
	rep.figure("cpu_us_per_request_m3", median(us))
	return time.Duration(median(us) * float64(time.Microsecond)), nil
}

// systemFigures runs the local system with each M of validators (M=3:
// o.runs runs on one system; any other M: one run of o.requests[M], default
// 40) and prints the per-request call counts and, for M=3, the latency and
// cost figures.
func systemFigures(ctx context.Context, rep *report, root string, o options, cpuPerRequest time.Duration) error {
	figures := map[string][]float64{}
	add := func(name string, v float64) { figures[name] = append(figures[name], v) }
	for _, m := range o.validators {
		n, ok := o.requests[m]
		if !ok {
			n = 40
		}
		rounds := 1
		if m == 3 {
			rounds = o.runs
		}
		start := time.Now()
		results, err := runSystem(ctx, root, m, rounds, n, o.concurrency)
		if err != nil {
			return fmt.Errorf("local system, M=%d: %w", m, err)
		}
		rep.note("M=%d: %d run(s) of %d requests, %d at a time, in %s", m, rounds, n, o.concurrency, time.Since(start).Round(time.Second))
		for r, res := range results {
			per := func(calls int) float64 { return float64(calls) / float64(res.N) }
			f := classify(res.Calls)
			if r == 0 && m != 3 {
				rep.note("M=%d, run 1: DynamoDB writes %.2f, reads %.2f, SQS %.2f, KMS %.2f, other %.2f per request",
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
			c := cost(res, cpuPerRequest)
			add("cost_usd_per_million_m3", c.total())
			add("ddb_wcu_per_approved_m3", res.Writes.WCU/float64(res.N))
			add("ddb_rcu_per_approved_m3", res.Reads.RCU/float64(res.N))
			add("delivery_log_wcu_per_approved_m3", res.Reads.OtherWCU/float64(res.N))
			add("delivery_log_rcu_per_approved_m3", res.Reads.LogRCU/float64(res.N))
			_, hotW := res.Writes.hotWrites("RequestsTable", res.N)
			add("hot_key_wcu_per_s_at_1000rps", hotW)
			_, hotR := res.Reads.hotReads(res.N)
			add("hot_key_rcu_per_s_at_1000rps", hotR)
			if r == 0 {
				describeRun(rep, res, c, cpuPerRequest)
				describeCapacity(rep, res.Writes, res.Reads, res.N)
			}
		}
	}
	for _, name := range sortedKeys(figures) {
		rep.figure(name, median(figures[name]))
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

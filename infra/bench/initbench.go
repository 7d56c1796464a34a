package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
)

// helloID is the directory of the hello-world baseline in the host build.
const helloID = "Hello"

// firstEvents are the first invokes, chosen to be handled without a side
// effect that could fail: the public API's health route, the admin API's
// connection list without a token (refused with 401 before any AWS call,
// the admin API has no health route), an empty batch for the stream and the
// dispatcher, a scheduled event for the reconciler of waiting requests (on the
// bench's empty tables: one read of the webhook set and two empty queries).
var firstEvents = map[string]string{
	"PublicApiFunction":  `{"version":"2.0","routeKey":"GET /api/v1/health","rawPath":"/api/v1/health","requestContext":{"http":{"method":"GET","path":"/api/v1/health"}}}`,
	"AdminApiFunction":   `{"version":"2.0","routeKey":"GET /api/v1/connection","rawPath":"/api/v1/connection","requestContext":{"http":{"method":"GET","path":"/api/v1/connection"}}}`,
	"StreamFunction":     `{"Records":[]}`,
	"DispatcherFunction": `{"Records":[]}`,
	"ReconcilerFunction": `{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-27T00:00:00Z","detail":{}}`,
	helloID:              `{}`,
}

// initFigures times each function's init, runs times each, interleaved,
// against moto with the template's resources, and prints the largest ratio
// of a function's init to the hello world's: each round starts every
// function and the hello world once, back to back, and a function's ratio
// is the median over the rounds of its ratio within the round, so that the
// load of a shared machine, which drifts between rounds, divides out. The
// init is what Lambda bills as Init Duration: from the process's start until
// the runtime first asks the Runtime API for an invoke. The bench serves
// that API itself (runtimeAPI), so the first invoke's own work, its AWS
// calls and the connections they open, belongs to the invoke, as in Lambda;
// the first response's time is printed beside it. Beside each function are
// printed its SDK floor's ratio (floorBinary, timed in the same rounds) and
// its package initialisation per SDK service (packageInits), so that the
// part of its init that is the SDK's own is measured, not guessed.
func initFigures(ctx context.Context, rep *report, root, hostDir string, runs int) error {
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	moto, err := stack.StartMoto(ctx, root, stack.MotoOptions{})
	if err != nil {
		return err
	}
	defer moto.Stop()
	st, err := stack.Provision(ctx, awsenv.Emulator(moto.Endpoint), tmpl, "pregate-bench")
	if err != nil {
		return err
	}
	overrides := map[string]string{"PUBLIC_BASE_URL": "http://127.0.0.1:3000/api/v1"}
	for k, v := range local.LocalDefaults {
		overrides[k] = v
	}
	ids := make([]string, 0, len(firstEvents))
	for id := range firstEvents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	took, firsts, floors := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for r := 0; r < runs; r++ {
		for _, id := range ids {
			env := map[string]string{}
			if id != helloID {
				if env, err = st.FunctionEnv(id, overrides); err != nil {
					return err
				}
			}
			init, first, err := coldStart(ctx, filepath.Join(hostDir, id, "bootstrap"), env, moto.Endpoint, firstEvents[id])
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			took[id] = append(took[id], ms(init))
			firsts[id] = append(firsts[id], ms(first))
			if id == helloID {
				continue
			}
			if init, _, err = coldStart(ctx, floorBinary(hostDir, id), nil, moto.Endpoint, firstEvents[helloID]); err != nil {
				return fmt.Errorf("%s's SDK floor (make bench-floors builds it): %w", id, err)
			}
			floors[id] = append(floors[id], ms(init))
		}
	}
	hello := median(took[helloID])
	ratio := func(times []float64) float64 {
		var ratios []float64
		for r := range times {
			ratios = append(ratios, times[r]/took[helloID][r])
		}
		return median(ratios)
	}
	worst, worstID := 0.0, ""
	for _, id := range ids {
		r := ratio(took[id])
		if id == helloID {
			rep.note("init %s: median %.2f ms", id, median(took[id]))
			continue
		}
		inits, err := packageInits(ctx, filepath.Join(hostDir, id, "bootstrap"), 5)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		rep.note("init %s: median %.2f ms (ratio %.2f; its SDK floor's %.2f); first response %.1f ms from the process's start; %s",
			id, median(took[id]), r, ratio(floors[id]), median(firsts[id]), inits)
		if r > worst {
			worst, worstID = r, id
		}
	}
	rep.note("init_ratio_vs_hello is %s's (linux/%s build)", worstID, hostArch())
	rep.figure("init_ratio_vs_hello", worst)
	rep.figure("init_ms_hello", hello)
	return nil
}

// floorBinary is the hello world linking the AWS SDK packages function id
// links and nothing of ours (make bench-floors): the init the function cannot
// go below while it calls those services, timed in each round beside it.
func floorBinary(hostDir, id string) string { return filepath.Join(hostDir, "floor", id, "bootstrap") }

// packageInits runs bootstrap n times with GODEBUG=inittrace=1 (apart from
// the timed starts: the trace's own output slows them) and describes its
// package initialisation: the median total, and the AWS SDK's service
// packages' share, per service (its schemas, types and endpoint tables).
// The process stops at its configuration check, after every package init.
func packageInits(ctx context.Context, bootstrap string, n int) (string, error) {
	totals, services := []float64{}, map[string][]float64{}
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, bootstrap)
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		out, _ := cmd.CombinedOutput() // it exits 1: no Runtime API
		total, perService, err := parseInitTrace(string(out))
		if err != nil {
			return "", fmt.Errorf("%s: %w", bootstrap, err)
		}
		totals = append(totals, total)
		for svc, clock := range perService {
			services[svc] = append(services[svc], clock)
		}
	}
	names := make([]string, 0, len(services))
	sdk := 0.0
	for svc, clocks := range services {
		names = append(names, svc)
		sdk += median(clocks)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, svc := range names {
		parts[i] = fmt.Sprintf("%s %.2f", svc, median(services[svc]))
	}
	return fmt.Sprintf("package init %.2f ms, of which the SDK's service packages %.2f ms (%s)", median(totals), sdk, strings.Join(parts, ", ")), nil
}

// parseInitTrace sums the clock times of a GODEBUG=inittrace=1 output, in
// ms: every package's, and the AWS SDK service packages' by service.
func parseInitTrace(out string) (total float64, perService map[string]float64, err error) {
	perService = map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		// init github.com/aws/aws-sdk-go-v2/service/sqs/schemas @4.4 ms, 0.21 ms clock, 150776 bytes, 920 allocs
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		clock, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return 0, nil, fmt.Errorf("inittrace line %q: %w", line, err)
		}
		total += clock
		if svc, ok := strings.CutPrefix(f[1], "github.com/aws/aws-sdk-go-v2/service/"); ok {
			svc, _, _ = strings.Cut(svc, "/")
			perService[svc] += clock
		}
	}
	if total == 0 {
		return 0, nil, fmt.Errorf("no inittrace in %q", out)
	}
	return total, perService, nil
}

func hostArch() string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "host"
	}
	return strings.TrimSpace(string(out))
}

// coldStart starts bootstrap against a Runtime API of its own and returns
// its init (from the process's start until its first request for an
// invoke) and the time until its answer to event.
func coldStart(ctx context.Context, bootstrap string, env map[string]string, endpoint, event string) (init, first time.Duration, err error) {
	if bootstrap, err = filepath.Abs(bootstrap); err != nil { // it runs in its own directory
		return 0, 0, err
	}
	api, err := newRuntimeAPI(event)
	if err != nil {
		return 0, 0, err
	}
	defer api.close()
	cmd := exec.CommandContext(ctx, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+api.addr, "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	select {
	case at := <-api.asked:
		init = at.Sub(start)
	case msg := <-api.initFailed:
		return 0, 0, fmt.Errorf("init error: %s; logs: %s", msg, logs.String())
	case <-time.After(30 * time.Second):
		return 0, 0, fmt.Errorf("no request for an invoke within 30s; logs: %s", logs.String())
	}
	select {
	case r := <-api.answered:
		if r.err != "" {
			return 0, 0, fmt.Errorf("first invoke: %s; logs: %s", r.err, logs.String())
		}
		return init, r.at.Sub(start), nil
	case <-time.After(30 * time.Second):
		return 0, 0, fmt.Errorf("no answer within 30s; logs: %s", logs.String())
	}
}

// runtimeAPI is the part of Lambda's Runtime API a Go runtime uses: it hands
// out one event, holds every later request for an invoke open, and takes
// the answer.
type runtimeAPI struct {
	addr       string
	srv        *http.Server
	asked      chan time.Time // the first request for an invoke
	answered   chan answer
	initFailed chan string
}

type answer struct {
	at  time.Time
	err string // the error the function reported, if any
}

func newRuntimeAPI(event string) (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &runtimeAPI{addr: ln.Addr().String(), asked: make(chan time.Time, 1), answered: make(chan answer, 1), initFailed: make(chan string, 1)}
	var handed sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		first := false
		handed.Do(func() { first = true })
		if !first {
			<-r.Context().Done() // one invoke only: the runtime waits here until it is stopped
			return
		}
		a.asked <- now
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "bench-request")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
		_, _ = io.WriteString(w, event)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ans := answer{at: time.Now()}
		if r.PathValue("outcome") != "response" || bytes.Contains(body, []byte(`"errorType"`)) {
			ans.err = string(body)
		}
		a.answered <- ans
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.initFailed <- string(body)
		w.WriteHeader(http.StatusAccepted)
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *runtimeAPI) close() { _ = a.srv.Close() }

// syncBuffer is a bytes.Buffer the emulator's output goroutines and the
// reader can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

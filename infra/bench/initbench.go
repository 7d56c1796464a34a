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
// the first response's time is printed beside it.
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
	took, firsts := map[string][]float64{}, map[string][]float64{}
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
		}
	}
	hello := median(took[helloID])
	worst, worstID := 0.0, ""
	for _, id := range ids {
		var ratios []float64
		for r := range took[id] {
			ratios = append(ratios, took[id][r]/took[helloID][r])
		}
		ratio := median(ratios)
		rep.note("init %s: median %.2f ms (ratio %.2f); first response %.1f ms from the process's start", id, median(took[id]), ratio, median(firsts[id]))
		if id != helloID && ratio > worst {
			worst, worstID = ratio, id
		}
	}
	rep.note("init_ratio_vs_hello is %s's (linux/%s build)", worstID, hostArch())
	rep.figure("init_ratio_vs_hello", worst)
	rep.figure("init_ms_hello", hello)
	return nil
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

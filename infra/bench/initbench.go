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
	"strings"
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

// initFigures times each function's cold start under the Runtime Interface
// Emulator, runs times each, interleaved, against moto with the template's
// resources, and prints the largest ratio of a function's cold start to the
// hello world's: each round starts every function and the hello world once,
// back to back, and a function's ratio is the median over the rounds of its
// ratio within the round, so that the load of a shared machine, which
// drifts between rounds, divides out. A cold start is the time from the process start to the
// first invoke's response, less the median of the same event's warm
// invokes that follow: the handler's own work on that event (the reconciler's
// reads) is not init, while everything the first invoke does only because
// it is the first (opening connections, waiting for the reply-token key
// set read in the background) stays in.
func initFigures(ctx context.Context, rep *report, root, rie, hostDir string, runs int) error {
	rie, err := filepath.Abs(rie) // the emulator runs in each bootstrap's directory
	if err != nil {
		return err
	}
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
			first, warm, err := coldStart(ctx, rie, filepath.Join(hostDir, id, "bootstrap"), env, moto.Endpoint, firstEvents[id])
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			took[id] = append(took[id], ms(first-warm))
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
		rep.note("cold start %s: median %.1f ms (ratio %.2f); first response %.1f ms", id, median(took[id]), ratio, median(firsts[id]))
		if id != helloID && ratio > worst {
			worst, worstID = ratio, id
		}
	}
	rep.note("init_ratio_vs_hello is %s's (linux/%s build under aws-lambda-rie)", worstID, hostArch())
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

// warmInvokes is how many invokes follow the first one to time the warm
// handling of the same event.
const warmInvokes = 3

// coldStart starts rie on bootstrap and returns the time until the first
// invoke with event is answered, and the median of the warm invokes that follow.
func coldStart(ctx context.Context, rie, bootstrap string, env map[string]string, endpoint, event string) (first, warm time.Duration, err error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, "--log-level", "error", "./bootstrap")
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	for time.Since(start) < 30*time.Second {
		ok, err := invoke(url, event)
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		first = time.Since(start)
		if err != nil {
			return 0, 0, fmt.Errorf("first invoke: %w; logs: %s", err, logs.String())
		}
		var warms []float64
		for range warmInvokes {
			t0 := time.Now()
			if _, err := invoke(url, event); err != nil {
				return 0, 0, fmt.Errorf("warm invoke: %w; logs: %s", err, logs.String())
			}
			warms = append(warms, float64(time.Since(t0)))
		}
		return first, time.Duration(median(warms)), nil
	}
	return 0, 0, fmt.Errorf("no answer within 30s; logs: %s", logs.String())
}

// invoke posts event to the emulator: reached is false when it does not
// answer yet, err tells a failed invoke.
func invoke(url, event string) (reached bool, err error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(event))
	if err != nil {
		return false, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errorType"`)) {
		return true, fmt.Errorf("%d %s", resp.StatusCode, body)
	}
	return true, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Moto is a moto server child process on a loopback port.
type Moto struct {
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	done     chan struct{}
}

// MotoOptions tune how the emulator starts.
type MotoOptions struct {
	// Python is the interpreter with moto installed; default <root>/.venv/bin/python
	// or $MOTO_PYTHON.
	Python string
	// ThreadedDynamoDB lets moto run DynamoDB calls concurrently (only to
	// reproduce the race documented in docs/internals/emulator.md).
	ThreadedDynamoDB bool
	// Log receives moto's own output; nil discards it.
	Log io.Writer
	// KeepAlive keeps each connection open for the client's next call, as
	// AWS's endpoints do; otherwise moto closes it after every answer.
	KeepAlive bool
}

// StartMoto starts moto on a free loopback port and waits until it answers.
func StartMoto(ctx context.Context, root string, opts MotoOptions) (*Moto, error) {
	python := opts.Python
	if python == "" {
		python = os.Getenv("MOTO_PYTHON")
	}
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("moto's python %s not found (run `make venv` or set MOTO_PYTHON): %w", python, err)
	}
	args := []string{filepath.Join(root, "infra", "moto", "server.py")}
	if opts.ThreadedDynamoDB {
		args = append(args, "--threaded-dynamodb")
	}
	if opts.KeepAlive {
		args = append(args, "--keep-alive")
	}
	if opts.Log != nil { // someone reads moto's output: include its request log
		args = append(args, "--log-requests")
	}
	cmd := exec.Command(python, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	cmd.Stderr = logw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	m := &Moto{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()

	endpoint := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if _, addr, ok := strings.Cut(line, "moto listening on "); ok {
				endpoint <- addr
			}
			fmt.Fprintln(logw, line)
		}
	}()
	select {
	case m.Endpoint = <-endpoint:
	case <-m.done:
		return nil, errors.New("moto exited before listening (see its log)")
	case <-time.After(60 * time.Second):
		m.Stop()
		return nil, errors.New("moto did not start within 60s")
	case <-ctx.Done():
		m.Stop()
		return nil, ctx.Err()
	}
	if err := waitHTTP(ctx, m.Endpoint+"/moto-api/data.json", 30*time.Second); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Stop ends the emulator and waits for it.
func (m *Moto) Stop() {
	if m == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
}

func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator at %s not answering: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

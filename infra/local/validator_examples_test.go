package local_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
)

// TestValidatorExamplesEndToEnd starts the Python (FastAPI) and TypeScript
// (Node) example validators as their READMEs say, each behind a real
// webhook of the local system, and submits two requests: one the example
// approves, one on its deny list that it flags for manual review.
func TestValidatorExamplesEndToEnd(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(root, ".venv", "sdk", "bin", "python")
	examples := []struct {
		name string
		// needs are the files make sdk-deps installs.
		needs []string
		cmd   func(ctx context.Context) *exec.Cmd
	}{
		{"python", []string{python}, func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, python, "app.py")
			cmd.Dir = filepath.Join(root, "examples", "validator-python")
			// The SDK from its source, as pip install -r requirements.txt would put it.
			cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(root, "validator", "python", "src"))
			return cmd
		}},
		{"typescript", []string{filepath.Join(root, "examples", "validator-typescript", "node_modules", "@pregate", "validator", "dist", "index.js")},
			func(ctx context.Context) *exec.Cmd {
				cmd := exec.CommandContext(ctx, "npm", "start", "--silent")
				cmd.Dir = filepath.Join(root, "examples", "validator-typescript")
				cmd.Env = os.Environ()
				return cmd
			}},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			c := admin(t)
			for _, f := range ex.needs {
				if _, err := os.Stat(f); err != nil {
					t.Fatalf("the %s example needs %s: run make sdk-deps (make test does)", ex.name, f)
				}
			}
			addr := freeAddr(t)
			_, port, _ := net.SplitHostPort(addr)
			hook := unique("example_" + ex.name)
			secret := c.webhookAt("http://"+addr+"/validate", hook)
			ctx, cancel := context.WithCancel(context.Background())
			cmd := ex.cmd(ctx)
			cmd.Env = append(cmd.Env, "WEBHOOK_SIGNING_SECRET="+secret, "PORT="+port, "HOST=127.0.0.1", "DENY=blocked@example.com")
			// npm start runs node as a child: stop the whole group.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
			cmd.WaitDelay = 5 * time.Second
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cancel()
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("%s example's output:\n%s", ex.name, out.String())
				}
			})
			waitUntil(t, 60*time.Second, func() bool {
				conn, err := net.Dial("tcp", addr)
				if err == nil {
					conn.Close()
				}
				return err == nil
			})
			approved, flagged := validatorOutcomes(hook)
			c.submitExpecting(approved)
			c.submitExpecting(flagged)
			if l := out.String(); !strings.Contains(l, "answered") {
				t.Fatalf("the example logged no answer:\n%s", l)
			}
		})
	}
}

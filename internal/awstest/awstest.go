// Package awstest gives integration tests a real AWS endpoint: the one named
// by AWS_ENDPOINT_URL when set (moto, LocalStack or an account), otherwise a
// moto server started once per test binary. Each call provisions a fresh copy
// of template.yaml's tables, queues, key and secret under a unique prefix.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
)

var (
	once     sync.Once
	moto     *stack.Moto
	shared   aws.Config
	root     string
	startErr error
)

// Main runs the tests and stops the emulator afterwards; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop ends the emulator this test binary started, if any (for a TestMain that does more than Main).
func Stop() { moto.Stop() }

// Endpoint returns the SDK configuration of the endpoint under test.
func Endpoint(t testing.TB) aws.Config {
	t.Helper()
	once.Do(func() {
		wd, _ := os.Getwd()
		root, startErr = stack.FindRoot(wd)
		if startErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
			shared, startErr = config.LoadDefaultConfig(ctx)
			return
		}
		moto, startErr = stack.StartMoto(ctx, root, stack.MotoOptions{Log: motoLog()})
		if startErr == nil {
			shared = awsenv.Emulator(moto.Endpoint)
		}
	})
	if startErr != nil {
		t.Fatalf("AWS endpoint for integration tests: %v", startErr)
	}
	return shared.Copy()
}

// Stack provisions template.yaml's resources under a fresh prefix.
func Stack(t testing.TB) (*stack.Stack, aws.Config) {
	t.Helper()
	cfg := Endpoint(t)
	tmpl, err := stack.LoadTemplate(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Provision(ctx, cfg, tmpl, UniqueName("t"))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return s, cfg
}

// UniqueName is prefix plus random hex, for resources that must not collide.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b))
}

// Root is the repository root (valid after Endpoint or Stack).
func Root() string { return root }

// motoLog shows the emulator's request log only when PREGATE_MOTO_LOG=1.
func motoLog() io.Writer {
	if os.Getenv("PREGATE_MOTO_LOG") != "" {
		return os.Stderr
	}
	return nil
}

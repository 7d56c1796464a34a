package pipeline

import (
	"context"
	"testing"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func newPipeline(tb testing.TB, m int) *Pipeline {
	tb.Helper()
	st, cfg := awstest.Stack(tb)
	tmpl, err := stack.LoadTemplate("../../../template.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(context.Background(), cfg, tmpl, st, m)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestRequestIsApproved checks the pipeline does the whole journey through
// the emulator: every request ends approved, with one approved-queue
// message, and the invocations took CPU time.
func TestRequestIsApproved(t *testing.T) {
	for _, m := range []int{1, 3} {
		p := newPipeline(t, m)
		for i := 0; i < 3; i++ {
			if err := p.Request(context.Background(), i); err != nil {
				t.Fatalf("M=%d, request %d: %v", m, i, err)
			}
		}
		if p.Approved() != 3 || p.cpu <= 0 {
			t.Fatalf("M=%d: %d approvals published, want 3; CPU %s", m, p.Approved(), p.cpu)
		}
	}
}

// BenchmarkApprovedRequestM3 is one auto-approved request with three
// validators through every handler; cpu-us/op is the user+system CPU time
// spent in the invocations (the emulator's own work is another process's).
func BenchmarkApprovedRequestM3(b *testing.B) {
	p := newPipeline(b, 3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Request(context.Background(), i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.cpu.Microseconds())/float64(b.N), "cpu-us/op")
}

// TestFunctionProcs: the measure runs the handlers with the GOMAXPROCS the
// template gives their functions (1 today), and refuses functions that
// differ, which one process could not reproduce.
func TestFunctionProcs(t *testing.T) {
	tmpl, err := stack.LoadTemplate("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := FunctionProcs(tmpl); n != 1 || err != nil {
		t.Errorf("the template's functions: GOMAXPROCS %d, %v; want 1", n, err)
	}
	tmpl.Resources["StreamFunction"] = stack.Resource{Properties: map[string]any{
		"Environment": map[string]any{"Variables": map[string]any{"GOMAXPROCS": "2"}}}}
	if n, err := FunctionProcs(tmpl); err == nil {
		t.Errorf("functions with GOMAXPROCS 1 and 2 measured with %d", n)
	}
}

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

// TestFunctionRuntime: the measure runs the handlers with the GOMAXPROCS
// and GOGC the template gives their functions (1 and 200 today), and
// refuses functions that differ, which one process could not reproduce.
func TestFunctionRuntime(t *testing.T) {
	tmpl, err := stack.LoadTemplate("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rt, err := FunctionRuntime(tmpl); rt != (Runtime{Procs: 1, GCPercent: 200}) || err != nil {
		t.Errorf("the template's functions: %+v, %v; want GOMAXPROCS 1, GOGC 200", rt, err)
	}
	for _, name := range []string{"GOMAXPROCS", "GOGC"} {
		own := map[string]any{"Environment": map[string]any{"Variables": map[string]any{name: "3"}}}
		saved := tmpl.Resources["StreamFunction"]
		tmpl.Resources["StreamFunction"] = stack.Resource{Properties: own}
		if rt, err := FunctionRuntime(tmpl); err == nil {
			t.Errorf("functions with different %s measured with %+v", name, rt)
		}
		tmpl.Resources["StreamFunction"] = saved
	}
}

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

package pipeline

import (
	"context"
	"testing"
)

// TestRequestIsApproved checks the in-memory pipeline does the whole journey:
// every request ends approved, with one approved-queue message.
func TestRequestIsApproved(t *testing.T) {
	for _, m := range []int{1, 3, 10} {
		p, err := New(m)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := p.Request(context.Background(), i); err != nil {
				t.Fatalf("M=%d, request %d: %v", m, i, err)
			}
		}
		if p.Approved() != 3 {
			t.Fatalf("M=%d: %d approvals published, want 3", m, p.Approved())
		}
	}
}

// BenchmarkApprovedRequestM3 is one auto-approved request with three
// validators through every handler; cpu-us/op is the user+system CPU time
// spent in the invocations (the fakes' own work outside them is not ours).
func BenchmarkApprovedRequestM3(b *testing.B) {
	p, err := New(3)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Request(context.Background(), i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.cpu.Microseconds())/float64(b.N), "cpu-us/op")
}

package local

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFunction counts its inits and the invocations in flight per instance.
type fakeFunction struct {
	inits   atomic.Int64
	overlap atomic.Bool // an instance was handed a second invocation while busy
	release chan struct{}
}

func (f *fakeFunction) build(context.Context) (handler[int, int64], error) {
	id := f.inits.Add(1)
	var busy atomic.Bool
	return func(_ context.Context, _ int) (int64, error) {
		if !busy.CompareAndSwap(false, true) {
			f.overlap.Store(true)
		}
		defer busy.Store(false)
		if f.release != nil {
			<-f.release
		}
		return id, nil
	}, nil
}

func TestInstancesStartFreshWhenAllAreBusy(t *testing.T) {
	f := &fakeFunction{release: make(chan struct{})}
	s := &System{}
	h, err := instance(s, Options{Instances: &Instances{}}, "Fn", f.build)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 { // five at once, one warm instance
		wg.Go(func() { _, _ = h(context.Background(), 0) })
	}
	// Four fresh instances start while the first is busy.
	for deadline := time.Now().Add(10 * time.Second); f.inits.Load() < 5; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances for five invocations at once", f.inits.Load())
		}
	}
	close(f.release)
	wg.Wait()
	if f.overlap.Load() {
		t.Fatal("an instance handled two invocations at once")
	}
	if s.ColdStarts() != 4 {
		t.Fatalf("%d cold starts, want 4", s.ColdStarts())
	}
	// Idle again, they are reused: no cold start one at a time.
	for range 10 {
		_, _ = h(context.Background(), 0)
	}
	if s.ColdStarts() != 4 || f.inits.Load() != 5 {
		t.Fatalf("%d cold starts, %d inits after warm invocations", s.ColdStarts(), f.inits.Load())
	}
}

func TestInstancesStartFreshForAShare(t *testing.T) {
	f := &fakeFunction{}
	s := &System{instanceSeed: 3}
	h, err := instance(s, Options{Instances: &Instances{Fresh: 0.25, Seed: 3}}, "Fn", f.build)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for range 400 { // one at a time: only the share starts fresh instances
		id, _ := h(context.Background(), 0)
		seen[id] = true
	}
	if n := s.ColdStarts(); n < 70 || n > 130 || len(seen) != n+1 {
		t.Fatalf("%d cold starts of 400 at a share of 0.25 (want about 100), %d instances seen", n, len(seen))
	}
}

func TestWithoutInstancesOneIsShared(t *testing.T) {
	f := &fakeFunction{}
	s := &System{}
	h, err := instance(s, Options{}, "Fn", f.build)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _, _ = h(context.Background(), 0) })
	}
	wg.Wait()
	if f.inits.Load() != 1 || s.ColdStarts() != 0 {
		t.Fatalf("%d inits, %d cold starts", f.inits.Load(), s.ColdStarts())
	}
}

package local

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocation wraps a handler so that each call carries a Lambda context with
// a fresh request id, as Lambda's runtime gives every invocation: the
// handlers' log lines then carry aws_request_id locally too. The context
// also names the function (FunctionOf), so that make bench can tell whose
// AWS calls it counts.
func invocation[E, R any](function string, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		ctx = context.WithValue(ctx, functionKey{}, function)
		return h(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()}), ev)
	}
}

type functionKey struct{}

// FunctionOf is the logical id of the function (as in template.yaml) whose
// invocation ctx belongs to, or "" outside any invocation (the local
// pollers' own calls).
func FunctionOf(ctx context.Context) string {
	f, _ := ctx.Value(functionKey{}).(string)
	return f
}

// newRequestID is a random UUID, the shape of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Instances make the local system start handler instances as Lambda does:
// an instance handles one invocation at a time; an invocation that finds
// every warm instance busy gets a fresh one, and so does a share of the
// others (Lambda recycles instances). A fresh instance runs its init again:
// it builds its clients and starts its background reads (the reply-token
// key set). Without Instances each function has one instance, built at
// start-up and shared by concurrent invocations (the dispatcher: one per
// poller).
type Instances struct {
	// Fresh is the share of invocations, 0 to 1, that go to a fresh
	// instance although a warm one is idle.
	Fresh float64
	// Seed fixes the dice that pick those invocations.
	Seed uint64
}

// handler is a function's handler as its invocations see it.
type handler[E, R any] func(context.Context, E) (R, error)

// pool hands each invocation an instance of a function.
type pool[E, R any] struct {
	build func(context.Context) (handler[E, R], error) // a fresh instance's init
	fresh float64
	roll  func() float64
	cold  *atomic.Int64 // fresh instances started, for the whole system
	mu    sync.Mutex
	idle  []handler[E, R]
}

func (p *pool[E, R]) invoke(ctx context.Context, ev E) (R, error) {
	h, err := p.take(ctx)
	if err != nil {
		var zero R
		return zero, fmt.Errorf("init of a fresh instance: %w", err)
	}
	defer p.put(h)
	return h(ctx, ev)
}

// take hands out an idle instance, or starts a fresh one when none is idle
// or the dice say so (the idle one it would have used is retired).
func (p *pool[E, R]) take(ctx context.Context) (handler[E, R], error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		h := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if p.roll() >= p.fresh {
			p.mu.Unlock()
			return h, nil
		}
	}
	p.mu.Unlock()
	p.cold.Add(1)
	return p.build(ctx)
}

func (p *pool[E, R]) put(h handler[E, R]) {
	p.mu.Lock()
	p.idle = append(p.idle, h)
	p.mu.Unlock()
}

// instance builds a function's first instance at start-up (a bad
// configuration fails Start) and returns its invocations' handler: through
// a pool of instances when opts.Instances is set, with a Lambda context per
// invocation.
func instance[E, R any](s *System, opts Options, function string, build func(context.Context) (handler[E, R], error)) (handler[E, R], error) {
	first, err := build(context.Background())
	if err != nil {
		return nil, err
	}
	h := first
	if in := opts.Instances; in != nil {
		p := &pool[E, R]{build: build, fresh: in.Fresh, roll: s.dice(), cold: &s.coldStarts, idle: []handler[E, R]{first}}
		h = p.invoke
	}
	return invocation(function, h), nil
}

// ColdStarts is how many fresh instances the functions started after
// start-up (0 without Options.Instances).
func (s *System) ColdStarts() int { return int(s.coldStarts.Load()) }

// dice is a goroutine-safe [0,1) source from Options.Instances' seed, one
// stream per call.
func (s *System) dice() func() float64 {
	s.streams++
	rng := mathrand.New(mathrand.NewPCG(s.instanceSeed, s.streams))
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64()
	}
}

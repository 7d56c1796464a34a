// Package faults is a fault injector for the local system: a reverse proxy on
// loopback in front of the AWS emulator that fails a share of the calls made
// through it, per operation, the ways AWS calls fail:
//
//   - throttle: 400 with the service's throttling error
//     (ProvisionedThroughputExceededException or ThrottlingException, at
//     random, for DynamoDB; ThrottlingException for Secrets Manager, KMS,
//     SQS and the others), not forwarded;
//   - server_error: 500 InternalFailure, not forwarded;
//   - timeout: no answer for Hang, then the connection is dropped, not
//     forwarded (the client's own timeout, if shorter, ends it first);
//   - lost_response: forwarded, so the write is applied, then the response is
//     replaced by a 500 or the connection is dropped (alternately);
//   - conflict (DynamoDB writes only): what DynamoDB answers a write that
//     meets a transaction in flight on its item, not forwarded:
//     TransactionCanceledException with a TransactionConflict reason for
//     TransactWriteItems, TransactionConflictException for the others;
//   - slow (Secrets Manager's GetSecretValue only): forwarded and answered,
//     after SlowBy. The gate reads its secrets once per instance, when it
//     starts, so this is a slow first read of a secret.
//
// The operation is the X-Amz-Target header (e.g. DynamoDB_20120810.UpdateItem,
// AmazonSQS.SendMessageBatch, TrentService.Decrypt): every JSON-protocol
// service the gate uses names it there. Calls without it are forwarded
// untouched. Only the product's clients go through the proxy; a test harness
// talks to the emulator directly, so its own calls never fail.
package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a way of failing a call.
type Kind string

// The kinds, in the order a roll walks them.
const (
	Throttle     Kind = "throttle"
	ServerError  Kind = "server_error"
	Timeout      Kind = "timeout"
	LostResponse Kind = "lost_response"
	Conflict     Kind = "conflict"
	Slow         Kind = "slow"
)

// Kinds are every kind, in a fixed order.
var Kinds = []Kind{Throttle, ServerError, Timeout, LostResponse, Conflict, Slow}

// Applies says whether AWS can answer a call of op with kind: a conflict
// only a DynamoDB write, a slow read only Secrets Manager's GetSecretValue.
func Applies(op string, kind Kind) bool {
	switch kind {
	case Conflict:
		switch op {
		case "DynamoDB_20120810.PutItem", "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.DeleteItem", "DynamoDB_20120810.TransactWriteItems":
			return true
		}
		return false
	case Slow:
		return op == "secretsmanager.GetSecretValue"
	}
	return true
}

// Rules are fault rates per operation. A key is an operation
// ("DynamoDB_20120810.UpdateItem"), a short one ("UpdateItem", matching that
// action of any service), or "*" for every operation, each optionally
// followed by ":<kind>" to set that kind's rate alone. A rate without a kind
// is shared evenly by the kinds that apply to the operation (Applies). The
// most specific key wins, kind by kind; a kind never applies where AWS
// would not answer with it.
type Rules map[string]float64

// ParseRules reads "op=rate,op:kind=rate,*=rate" (the FAULTS variable), e.g.
// "DynamoDB_20120810.UpdateItem=0.02,SQS.SendMessageBatch=0.01,*=0.005".
// "SQS." is short for the SQS target prefix "AmazonSQS.". An empty string
// injects nothing.
func ParseRules(s string) (Rules, error) {
	r := Rules{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("fault rule %q: want op=rate", part)
		}
		rate, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || rate < 0 || rate > 1 {
			return nil, fmt.Errorf("fault rule %q: the rate must be a number from 0 to 1", part)
		}
		key = strings.TrimSpace(key)
		op, kind, hasKind := strings.Cut(key, ":")
		if op == "" {
			return nil, fmt.Errorf("fault rule %q: no operation", part)
		}
		if hasKind && !knownKind(Kind(kind)) {
			return nil, fmt.Errorf("fault rule %q: kind %q is not one of %v", part, kind, Kinds)
		}
		if rest, ok := strings.CutPrefix(op, "SQS."); ok {
			op = "AmazonSQS." + rest
		}
		if hasKind {
			key = op + ":" + kind
		} else {
			key = op
		}
		if _, dup := r[key]; dup {
			return nil, fmt.Errorf("fault rule %q: %s set twice", part, key)
		}
		r[key] = rate
	}
	return r, nil
}

func knownKind(k Kind) bool {
	for _, c := range Kinds {
		if c == k {
			return true
		}
	}
	return false
}

// Rate is the chance that a call of op fails with kind.
func (r Rules) Rate(op string, kind Kind) float64 {
	if !Applies(op, kind) {
		return 0
	}
	_, action, _ := strings.Cut(op, ".")
	for _, key := range []string{op, action, "*"} {
		if key == "" {
			continue
		}
		if v, ok := r[key+":"+string(kind)]; ok {
			return v
		}
		if v, ok := r[key]; ok {
			n := 0
			for _, k := range Kinds {
				if Applies(op, k) {
					n++
				}
			}
			return v / float64(n)
		}
	}
	return 0
}

// Fault is one injected fault.
type Fault struct {
	At   time.Time
	Op   string
	Kind Kind
	// Tags are what Proxy.Tag found in the call (the soak: request ids).
	Tags []string
	// Absorbed: a later attempt of the same SDK operation (the same
	// amz-sdk-invocation-id) was answered 2xx, so the caller never saw
	// the fault. A slow call, answered, is absorbed.
	Absorbed bool
	// invocation is the call's amz-sdk-invocation-id.
	invocation string
}

// Proxy forwards every call to Target, failing some by Rules.
type Proxy struct {
	Target string // the emulator, e.g. http://127.0.0.1:5000
	Rules  Rules
	// Hang is how long a timeout holds the call before dropping it (5 s when 0).
	Hang time.Duration
	// SlowBy is how long a slow call waits before it is forwarded (2 s when 0).
	SlowBy time.Duration
	// Rand draws from [0,1); a seeded math/rand/v2 source when nil.
	Rand func() float64
	// Tag, when set, names what an injected call was about (kept on its Fault).
	Tag func(op string, body []byte) []string
	// Observe, when set, sees every forwarded call that was answered 2xx
	// (the soak maps SQS receipt handles to the messages' bodies with it).
	Observe func(op string, req, resp []byte)
	// Client forwards the calls; a client without timeout when nil.
	Client *http.Client

	paused atomic.Bool
	once   sync.Once
	mu     sync.Mutex
	faults []Fault
	calls  map[string]int
	// answered are the SDK operations (amz-sdk-invocation-id) one of
	// whose attempts was answered 2xx.
	answered map[string]bool
	ln       net.Listener
	srv      *http.Server
}

// Start serves the proxy on a free loopback port and returns its URL.
func (p *Proxy) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the proxy; calls being hung are dropped.
func (p *Proxy) Close() {
	if p.srv != nil {
		_ = p.srv.Close()
	}
}

func (p *Proxy) init() {
	p.once.Do(func() {
		if p.Rand == nil {
			rng := rand.New(rand.NewPCG(1, 0xfa17))
			var mu sync.Mutex
			p.Rand = func() float64 { mu.Lock(); defer mu.Unlock(); return rng.Float64() }
		}
		if p.Client == nil {
			p.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
		}
		if p.Hang <= 0 {
			p.Hang = 5 * time.Second
		}
		if p.SlowBy <= 0 {
			p.SlowBy = 2 * time.Second
		}
		p.calls, p.answered = map[string]int{}, map[string]bool{}
	})
}

// Pause stops injecting (calls are forwarded untouched) until Resume: the
// soak sets up and checks with the proxy paused.
func (p *Proxy) Pause() { p.paused.Store(true) }

// Resume injects again after Pause.
func (p *Proxy) Resume() { p.paused.Store(false) }

// roll draws the fault, if any, for one call of op.
func (p *Proxy) roll(op string) (Kind, bool) {
	if op == "" || p.paused.Load() {
		return "", false
	}
	u, acc := p.Rand(), 0.0
	for _, k := range Kinds {
		acc += p.Rules.Rate(op, k)
		if u < acc {
			return k, true
		}
	}
	return "", false
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	op := r.Header.Get("X-Amz-Target")
	invocation := r.Header.Get("Amz-Sdk-Invocation-Id")
	kind, inject := p.roll(op)
	p.mu.Lock()
	p.calls[op]++
	p.mu.Unlock()
	if inject {
		p.record(op, kind, body, invocation)
	}
	switch {
	case inject && kind == Throttle:
		writeError(w, http.StatusBadRequest, p.throttleType(op), "Rate exceeded (injected)")
		return
	case inject && kind == Conflict:
		writeConflict(w, op, body)
		return
	case inject && kind == Slow:
		select {
		case <-time.After(p.SlowBy):
		case <-r.Context().Done():
			return
		}
	case inject && kind == ServerError:
		writeError(w, http.StatusInternalServerError, "InternalFailure", "Internal failure (injected)")
		return
	case inject && kind == Timeout:
		select {
		case <-time.After(p.Hang):
		case <-r.Context().Done():
		}
		drop(w)
		return
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "emulator: "+err.Error(), http.StatusBadGateway)
		return
	}
	if inject && kind == LostResponse { // the emulator did the work; the caller never learns it
		if p.Rand() < 0.5 {
			drop(w)
		} else {
			writeError(w, http.StatusInternalServerError, "InternalFailure", "Internal failure (injected after the call was applied)")
		}
		return
	}
	if resp.status/100 == 2 {
		if invocation != "" {
			p.mu.Lock()
			p.answered[invocation] = true
			p.mu.Unlock()
		}
		if p.Observe != nil {
			p.Observe(op, body, resp.body)
		}
	}
	for k, vs := range resp.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (p *Proxy) forward(r *http.Request, body []byte) (*response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(p.Target, "/")+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	res, err := p.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func (p *Proxy) record(op string, kind Kind, body []byte, invocation string) {
	f := Fault{At: time.Now(), Op: op, Kind: kind, invocation: invocation}
	if p.Tag != nil {
		f.Tags = p.Tag(op, body)
	}
	p.mu.Lock()
	p.faults = append(p.faults, f)
	p.mu.Unlock()
}

// throttleType is the error a throttled call of op gets from AWS. DynamoDB
// answers either: ProvisionedThroughputExceededException for a table or
// partition over its capacity, ThrottlingException for control-plane and
// account limits.
func (p *Proxy) throttleType(op string) string {
	if !strings.HasPrefix(op, "DynamoDB_") {
		return "ThrottlingException"
	}
	if p.Rand() < 0.5 {
		return "com.amazonaws.dynamodb.v20120810#ThrottlingException"
	}
	return "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
}

// writeError answers as the JSON protocols do: the error's type in __type.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSONError(w, status, typ, map[string]any{"message": msg})
}

func writeJSONError(w http.ResponseWriter, status int, typ string, fields map[string]any) {
	fields["__type"] = typ
	b, _ := json.Marshal(fields)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeConflict answers a DynamoDB write as DynamoDB does when a
// transaction in flight holds its item: a transaction is cancelled with a
// TransactionConflict reason on one of its items (the first), any other
// write fails with TransactionConflictException.
func writeConflict(w http.ResponseWriter, op string, body []byte) {
	const ongoing = "Transaction is ongoing for the item"
	if op != "DynamoDB_20120810.TransactWriteItems" {
		writeError(w, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#TransactionConflictException", ongoing+" (injected)")
		return
	}
	var in struct{ TransactItems []json.RawMessage }
	_ = json.Unmarshal(body, &in)
	reasons := make([]map[string]string, max(len(in.TransactItems), 1))
	codes := make([]string, len(reasons))
	for i := range reasons {
		reasons[i], codes[i] = map[string]string{"Code": "None"}, "None"
	}
	reasons[0], codes[0] = map[string]string{"Code": "TransactionConflict", "Message": ongoing}, "TransactionConflict"
	writeJSONError(w, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#TransactionCanceledException", map[string]any{
		"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "] (injected)",
		"CancellationReasons": reasons})
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, as a dead peer or a load balancer gives
	}
	_ = conn.Close()
}

// Faults returns every fault injected so far.
func (p *Proxy) Faults() []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Fault(nil), p.faults...)
	for i := range out {
		out[i].Absorbed = out[i].invocation != "" && p.answered[out[i].invocation]
	}
	return out
}

// CountKind is the number of faults of kind injected so far.
func (p *Proxy) CountKind(kind Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.faults {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// Count is the number of faults injected so far.
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.faults)
}

// Calls is how many calls of each operation went through the proxy.
func (p *Proxy) Calls() map[string]int {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

// Summary counts the injected faults by kind and operation, one
// "kind op count" line each, sorted.
func (p *Proxy) Summary() []string {
	n := map[string]int{}
	for _, f := range p.Faults() {
		n[string(f.Kind)+" "+f.Op]++
	}
	lines := make([]string, 0, len(n))
	for k, v := range n {
		lines = append(lines, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(lines)
	return lines
}

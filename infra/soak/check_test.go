package main

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/faults"
)

func TestClassify(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	const review = 20 * time.Second
	el := Validated{Called: true, CalledAt: at(1), Verdict: Eligible, Replied: true, Accepted: Eligible}
	ne := Validated{Called: true, CalledAt: at(1), Verdict: NotEligible, Replied: true, Accepted: NotEligible}
	silent := Validated{Called: true, CalledAt: at(1), Verdict: Eligible, Silent: true}
	failing := Validated{Called: true, CalledAt: at(1), Verdict: Eligible, Failed: []time.Time{at(1), at(2), at(3)}}
	sound := Validated{Called: true, CalledAt: at(1), Verdict: Eligible} // called, never failed, never replied (yet)
	three := func(a, b, c Validated) map[string]Validated { return map[string]Validated{"a": a, "b": b, "c": c} }
	states := func(a, b, c string) map[string]string { return map[string]string{"a": a, "b": b, "c": c} }
	base := Observed{Found: true, Created: t0, ReviewDeadline: review}
	observed := func(status string, st map[string]string, val map[string]Validated, f func(*Observed)) Observed {
		o := base
		o.Status, o.States, o.Validated = status, st, val
		if f != nil {
			f(&o)
		}
		return o
	}
	approved := observed("approved", states("eligible", "eligible", "eligible"), three(el, el, el), func(o *Observed) {
		o.Decisions, o.Messages, o.Approved, o.Closed = 1, 1, at(3), at(3)
	})
	with := func(o Observed, f func(*Observed)) Observed {
		o.States = copyMap(o.States)
		o.Validated = copyMap(o.Validated)
		f(&o)
		return o
	}
	passed := func(o *Observed) { o.Deadline = at(21) }                              // the review deadline moved it, in time
	failedB := func(o *Observed) { o.Failures = map[string]Entry{"b": {At: at(5)}} } // b's delivery failed at 5 s
	// refused is a validator whose eligible reply the gate refused for good.
	refused := func(status int, sec float64) Validated {
		v := el
		v.Accepted, v.Refused = "", []Refusal{{At: at(sec), Status: status, Detail: "refused"}}
		return v
	}
	unanswered := el // replied, yet the gate neither took nor refused it
	unanswered.Accepted = ""
	unsure := func() Validated {
		v := el
		v.Accepted, v.Unsure = "", []Span{{From: at(2), To: at(9)}}
		return v
	}
	type want struct{ lost, double, stuck, unexplained bool }
	cases := []struct {
		name string
		o    Observed
		want want
	}{
		// Ends the checker explains.
		{"approved once", approved, want{}},
		{"flagged", observed("pre_approval_not_eligible", states("not_eligible", "eligible", "called"), three(ne, el, silent),
			func(o *Observed) { o.Closed = at(2) }), want{}},
		{"review deadline, a validator silent", observed("pending", states("eligible", "eligible", "called"), three(el, el, silent), passed), want{}},
		{"failed delivery, its validator failed", observed("pending", states("eligible", "failed", "eligible"), three(el, failing, el), failedB), want{}},
		{"failed delivery, a fault on that request's call to that webhook", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Faults = []SurfacedFault{{At: at(4), Webhooks: []string{"b"}}} }), want{}},
		{"failed delivery, a fault on a call about the whole request", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Faults = []SurfacedFault{{At: at(4)}} }), want{}},
		{"review deadline, deliveries held by a stopped dispatcher", observed("pending", states("pending", "pending", "called"), three(Validated{}, Validated{}, silent),
			func(o *Observed) { passed(o); o.Stranded = true }), want{}},
		{"failed delivery, connection unusable then", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Unusable = map[string][]Span{"b": {{From: at(4), To: at(30)}}} }), want{}},
		{"approved without a webhook removed before, on the timeline", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", silent
			o.Removed, o.Actions = map[string]time.Time{"c": at(2)}, map[string]int{"pre_approval_webhook_removed": 1}
		}), want{}},
		{"pending, a removed webhook's delivery dropped", observed("pending", states("eligible", "failed", "pending"), three(el, failing, Validated{}),
			func(o *Observed) { failedB(o); o.LastHandled, o.Removed = at(1), map[string]time.Time{"c": at(3)} }), want{}},
		{"a removed webhook's delivery dropped behind a backlog, long after the others'", observed("pending", states("eligible", "failed", "pending"), three(el, failing, Validated{}),
			func(o *Observed) {
				failedB(o)
				o.LastHandled, o.Removed, o.Dropped = at(1), map[string]time.Time{"c": at(60)}, map[string]time.Time{"c": at(75)}
			}), want{}},
		{"a removed webhook's delivery dropped, the others' handled late", observed("pending", states("eligible", "called", "pending"), three(el, silent, Validated{}),
			func(o *Observed) { passed(o); o.LastHandled, o.Removed = at(70), map[string]time.Time{"c": at(65)} }), want{}},
		{"an unsure reply may have been kept, a fault touched it", with(approved, func(o *Observed) {
			o.Validated["a"] = unsure()
			o.Faults = []SurfacedFault{{At: at(3)}}
		}), want{}},
		{"a reply answered too late, yet kept", with(approved, func(o *Observed) { o.Validated["a"] = unsure() }), want{}},
		{"flagged by a webhook removed afterwards", observed("pre_approval_not_eligible", states("eligible", "eligible", "not_eligible"), three(el, el, ne),
			func(o *Observed) { o.Closed, o.Removed = at(2), map[string]time.Time{"c": at(30)} }), want{}},
		{"a reply refused after the request was flagged", observed("pre_approval_not_eligible", states("not_eligible", "eligible", "called"), three(ne, el, refused(400, 4)),
			func(o *Observed) { o.Closed = at(3) }), want{}},
		{"a reply refused after its webhook's removal", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", refused(404, 5)
			o.Removed, o.Actions = map[string]time.Time{"c": at(2)}, map[string]int{"pre_approval_webhook_removed": 1}
		}), want{}},

		// lost
		{"missing", Observed{}, want{lost: true}},
		{"approved, never published", with(approved, func(o *Observed) { o.Messages = 0 }), want{lost: true}},
		{"accepted reply not kept", observed("pending", states("called", "eligible", "called"), three(el, el, silent), passed), want{lost: true}},

		// double_decided
		{"two approved messages", with(approved, func(o *Observed) { o.Messages = 2 }), want{double: true}},
		{"two decision entries", with(approved, func(o *Observed) { o.Decisions = 2 }), want{double: true}},

		// stuck
		{"still awaiting", observed("awaiting_pre_approval", states("eligible", "eligible", "called"), three(el, el, silent), nil), want{stuck: true}},
		{"still awaiting, a delivery never made", observed("awaiting_pre_approval", states("eligible", "eligible", "pending"), three(el, el, Validated{}), nil),
			want{stuck: true}},

		// unexplained
		{"failed delivery without a cause", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el), failedB), want{unexplained: true}},
		{"pending without a reason", observed("pending", states("eligible", "eligible", "called"), three(el, el, silent), nil), want{unexplained: true}},
		{"pending, yet every webhook eligible", observed("pending", states("eligible", "eligible", "eligible"), three(el, el, el), passed), want{unexplained: true}},
		{"pending, a delivery never made", observed("pending", states("eligible", "eligible", "pending"), three(el, el, Validated{}), passed), want{unexplained: true}},
		{"stranded deliveries, yet no review deadline", observed("pending", states("failed", "pending", "called"), three(failing, Validated{}, silent),
			func(o *Observed) { o.Stranded, o.Failures = true, map[string]Entry{"a": {At: at(5)}} }), want{unexplained: true}},
		{"pending, two deliveries never made", observed("pending", states("pending", "pending", "called"), three(Validated{}, Validated{}, silent), passed),
			want{unexplained: true}},
		{"approved without a configured webhook", with(approved, func(o *Observed) { o.States["c"], o.Validated["c"] = "called", silent }), want{unexplained: true}},
		{"approved without a removed webhook, not on the timeline", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", silent
			o.Removed = map[string]time.Time{"c": at(2)}
		}), want{unexplained: true}},
		{"approved although not eligible", with(approved, func(o *Observed) { o.States["a"], o.Validated["a"] = "not_eligible", ne }), want{unexplained: true}},
		{"not eligible, no webhook said so", observed("pre_approval_not_eligible", states("eligible", "called", "called"), three(el, silent, silent), nil),
			want{unexplained: true}},
		{"a reply its validator never sent", observed("pending", states("eligible", "eligible", "called"), three(el, sound, silent), passed), want{unexplained: true}},
		{"a status no run makes", with(approved, func(o *Observed) { o.Status = "denied" }), want{unexplained: true}},

		// unexplained: excuses that today's main grants too widely, one per rule.
		{"every reply refused with 403, then the deadline", observed("pending", states("called", "called", "called"),
			three(refused(403, 2), refused(403, 2), refused(403, 2)), passed), want{unexplained: true}},
		{"a reply refused with 400 before the request was decided", observed("pending", states("eligible", "called", "called"), three(el, refused(400, 2), silent),
			func(o *Observed) { passed(o); o.Closed = time.Time{} }), want{unexplained: true}},
		{"a reply refused with 404 before its webhook's removal", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", refused(404, 1)
			o.Removed, o.Actions = map[string]time.Time{"c": at(2)}, map[string]int{"pre_approval_webhook_removed": 1}
			o.Approved = at(3)
		}), want{unexplained: true}},
		{"the review deadline before its time", observed("pending", states("eligible", "eligible", "called"), three(el, el, silent),
			func(o *Observed) { o.Deadline = at(5) }), want{unexplained: true}},
		{"failed delivery, its connection spoilt only after the failure", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Unusable = map[string][]Span{"b": {{From: at(60), To: at(80)}}} }), want{unexplained: true}},
		{"a delivery never made, its connection spoilt long after it was due", observed("pending", states("eligible", "eligible", "pending"), three(el, el, Validated{}),
			func(o *Observed) { passed(o); o.Unusable = map[string][]Span{"c": {{From: at(300)}}} }), want{unexplained: true}},
		{"approved without a webhook before its removal", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", silent
			o.Removed, o.Actions = map[string]time.Time{"c": at(60)}, map[string]int{"pre_approval_webhook_removed": 1}
		}), want{unexplained: true}},
		{"a delivery never made, handled long before its webhook's removal", observed("pending", states("eligible", "failed", "pending"), three(el, failing, Validated{}),
			func(o *Observed) { failedB(o); o.LastHandled, o.Removed = at(1), map[string]time.Time{"c": at(60)} }), want{unexplained: true}},
		{"a delivery dropped before its webhook's removal", observed("pending", states("eligible", "failed", "pending"), three(el, failing, Validated{}),
			func(o *Observed) {
				failedB(o)
				o.LastHandled, o.Removed, o.Dropped = at(1), map[string]time.Time{"c": at(60)}, map[string]time.Time{"c": at(59)}
			}), want{unexplained: true}},
		{"failed delivery, a fault on another webhook's call", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Faults = []SurfacedFault{{At: at(4), Webhooks: []string{"a"}}} }), want{unexplained: true}},
		{"failed delivery, a fault after it was recorded", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) { failedB(o); o.Faults = []SurfacedFault{{At: at(6), Webhooks: []string{"b"}}} }), want{unexplained: true}},
		{"failed delivery, a fault the SDK absorbed", observed("pending", states("eligible", "failed", "eligible"), three(el, sound, el),
			func(o *Observed) {
				failedB(o)
				o.Faults = surfaced([]faults.Fault{{At: at(4), Tags: []string{"pri_x", "b"}, Absorbed: true}})["pri_x"]
			}), want{unexplained: true}},
		{"failed delivery, its validator failed only after", observed("pending", states("eligible", "failed", "eligible"),
			three(el, Validated{Called: true, Verdict: Eligible, Failed: []time.Time{at(9)}}, el), failedB), want{unexplained: true}},
		{"replies never answered, no fault, then the deadline", observed("pending", states("called", "called", "called"), three(unsure(), unsure(), unsure()), passed),
			want{unexplained: true}},
		{"every validator replied eligible, none accepted, then the deadline", observed("pending", states("called", "called", "called"),
			three(unanswered, unanswered, unanswered), passed), want{unexplained: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := classify(tc.o)
			got := want{v.Lost, v.DoubleDecided, v.Stuck, v.Unexplained}
			if got != tc.want {
				t.Fatalf("got %+v (%s), want %+v", got, v.Why, tc.want)
			}
			// The run counts requests by rule: a rule broken twice is one.
			if u := slices.Compact(slices.Sorted(slices.Values(v.Rules))); len(u) != len(v.Rules) {
				t.Fatalf("rules %q repeat", v.Rules)
			}
		})
	}
}

// The run states how many requests should be approved and fails when fewer were.
func TestShouldApprove(t *testing.T) {
	el := Validated{Called: true, Verdict: Eligible, Replied: true, Accepted: Eligible}
	o := Observed{Found: true, Status: "approved", States: map[string]string{"a": "eligible", "d": "called"}, Decisions: 1, Messages: 1,
		Validated: map[string]Validated{"a": el, "d": {Called: true, Verdict: Eligible, Silent: true}}}
	if classify(o).ShouldApprove {
		t.Fatal("a silent validator, yet should approve")
	}
	o.Removed = map[string]time.Time{"d": {}} // a removed webhook is not waited for
	if !classify(o).ShouldApprove {
		t.Fatal("every configured validator replied eligible, yet should not approve")
	}
	o.Validated["a"] = Validated{Called: true, Verdict: Eligible, Replied: true, Unsure: []Span{{}}}
	if !classify(o).ShouldApprove {
		t.Fatal("a reply answered too late but kept, yet should not approve")
	}
	o.States["a"] = "called"
	if classify(o).ShouldApprove {
		t.Fatal("a reply left without an answer and not kept, yet should approve")
	}
	o.Validated["d"] = Validated{Called: true, Verdict: NotEligible, Replied: true}
	o.States["a"] = "eligible"
	if classify(o).ShouldApprove {
		t.Fatal("a removed webhook replied not eligible, yet should approve")
	}
	if (tally{shouldApprove: 10, approved: 10}).failed() || !(tally{shouldApprove: 10, approved: 9}).failed() {
		t.Fatal("a run that approved fewer than it should must fail, and only then")
	}
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"SOAK_REQUESTS": "300", "SOAK_SETTLE": "2m", "FAULTS": "UpdateItem=0.1"}
	s, err := load(func(k string) string { return env[k] })
	if err != nil || s.requests != 300 || s.settle.Minutes() != 2 || s.concurrency != 16 || s.faults.Rate("DynamoDB_20120810.UpdateItem", "throttle") != 0.02 {
		t.Fatalf("%+v %v", s, err)
	}
	for k, v := range map[string]string{"SOAK_REQUESTS": "0", "SOAK_CONCURRENCY": "x", "SOAK_SETTLE": "-1s", "SOAK_SEED": "-3", "FAULTS": "x=2", "SOAK_REVIEW_DEADLINE": "0s"} {
		if _, err := load(func(key string) string {
			if key == k {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	s, _ = load(func(string) string { return "" })
	if s.requests != 5000 || s.faults.Rate("AmazonSQS.SendMessageBatch", "timeout") != 0.0025 || s.deadline <= 0 {
		t.Fatalf("defaults %+v", s)
	}
	if s, _ := load(func(k string) string { return map[string]string{"FAULTS": "off"}[k] }); len(s.faults) != 0 {
		t.Fatalf("FAULTS=off: %v", s.faults)
	}
}

func TestTagCall(t *testing.T) {
	body := []byte(`{"Entries":[{"MessageBody":"{\"privacy_request_id\":\"pri_0a1b2c3d-0000-4000-8000-00000000000a\"}"},` +
		`{"Key":{"id":{"S":"pri_0a1b2c3d-0000-4000-8000-00000000000b"}}},{"id":"pri_0a1b2c3d-0000-4000-8000-00000000000a"}]}`)
	got := tagCall("", append(body, `{"webhook_key":"soak_b"},{"sk":"conn_soak_c"},{"email":"soak12@example.com"}`...))
	want := []string{"pri_0a1b2c3d-0000-4000-8000-00000000000a", "pri_0a1b2c3d-0000-4000-8000-00000000000b", "soak_b", "soak_c"}
	if !slices.Equal(got, want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
}

func TestDroppedDeliveriesReadsTheDispatchersLog(t *testing.T) {
	d := newDroppedDeliveries()
	log := slog.New(slog.NewJSONHandler(d, nil))
	log.With("privacy_request_id", "pri_1", "webhook_key", "c").Info("delivery skipped", "reason", "webhook no longer configured")
	log.With("privacy_request_id", "pri_1", "webhook_key", "a").Info("delivery skipped", "reason", "request decided")
	log.With("privacy_request_id", "pri_2", "webhook_key", "c").Info("pre-approval webhook called")
	if got := d.of("pri_1"); len(got) != 1 || got["c"].IsZero() {
		t.Errorf("pri_1: %v, want c's drop only", got)
	}
	if got := d.of("pri_2"); len(got) != 0 {
		t.Errorf("pri_2: %v, want none", got)
	}
}

package main

import (
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	el := Validated{Called: true, Verdict: Eligible, Accepted: Eligible}
	ne := Validated{Called: true, Verdict: NotEligible, Accepted: NotEligible}
	silent := Validated{Called: true, Verdict: Eligible, Silent: true}
	failing := Validated{Called: true, Verdict: Eligible, Failed: 3}
	sound := Validated{Called: true, Verdict: Eligible} // called, never failed, never replied (yet)
	three := func(a, b, c Validated) map[string]Validated { return map[string]Validated{"a": a, "b": b, "c": c} }
	states := func(a, b, c string) map[string]string { return map[string]string{"a": a, "b": b, "c": c} }
	approved := Observed{Found: true, Status: "approved", States: states("eligible", "eligible", "eligible"), Decisions: 1, Messages: 1, Validated: three(el, el, el)}
	with := func(o Observed, f func(*Observed)) Observed {
		o.States = copyMap(o.States)
		o.Validated = copyMap(o.Validated)
		f(&o)
		return o
	}
	type want struct{ lost, double, stuck, unexplained bool }
	cases := []struct {
		name string
		o    Observed
		want want
	}{
		// Ends the checker explains.
		{"approved once", approved, want{}},
		{"flagged", Observed{Found: true, Status: "pre_approval_not_eligible", States: states("not_eligible", "eligible", "called"),
			Validated: three(ne, el, silent)}, want{}},
		{"review deadline, a validator silent", Observed{Found: true, Status: "pending", States: states("eligible", "eligible", "called"), Deadline: true,
			Validated: three(el, el, silent)}, want{}},
		{"failed delivery, its validator failed", Observed{Found: true, Status: "pending", States: states("eligible", "failed", "eligible"),
			Validated: three(el, failing, el)}, want{}},
		{"failed delivery, a fault touched the request", Observed{Found: true, Status: "pending", States: states("eligible", "failed", "eligible"),
			Validated: three(el, sound, el), Faulted: true}, want{}},
		{"review deadline, deliveries held by a stopped dispatcher", Observed{Found: true, Status: "pending", States: states("pending", "pending", "called"), Deadline: true,
			Stranded: true, Validated: three(Validated{}, Validated{}, silent)}, want{}},
		{"failed delivery, connection unusable", Observed{Found: true, Status: "pending", States: states("eligible", "failed", "eligible"),
			Validated: three(el, sound, el), Broken: map[string]bool{"b": true}}, want{}},
		{"approved without a removed webhook, on the timeline", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", silent
			o.Removed, o.Actions = map[string]bool{"c": true}, map[string]int{"pre_approval_webhook_removed": 1}
		}), want{}},
		{"an unsure reply may have been kept", with(approved, func(o *Observed) { o.Validated["a"] = Validated{Called: true, Verdict: Eligible, Unsure: true} }), want{}},

		// lost
		{"missing", Observed{}, want{lost: true}},
		{"approved, never published", with(approved, func(o *Observed) { o.Messages = 0 }), want{lost: true}},
		{"accepted reply not kept", Observed{Found: true, Status: "pending", States: states("called", "eligible", "called"), Deadline: true,
			Validated: three(el, el, silent)}, want{lost: true}},

		// double_decided
		{"two approved messages", with(approved, func(o *Observed) { o.Messages = 2 }), want{double: true}},
		{"two decision entries", with(approved, func(o *Observed) { o.Decisions = 2 }), want{double: true}},

		// stuck
		{"still awaiting", Observed{Found: true, Status: "awaiting_pre_approval", States: states("eligible", "eligible", "called"),
			Validated: three(el, el, silent)}, want{stuck: true}},
		{"still awaiting, a delivery never made", Observed{Found: true, Status: "awaiting_pre_approval", States: states("eligible", "eligible", "pending"),
			Validated: three(el, el, Validated{})}, want{stuck: true}},

		// unexplained
		{"failed delivery without a cause", Observed{Found: true, Status: "pending", States: states("eligible", "failed", "eligible"),
			Validated: three(el, sound, el)}, want{unexplained: true}},
		{"pending without a reason", Observed{Found: true, Status: "pending", States: states("eligible", "eligible", "called"),
			Validated: three(el, el, silent)}, want{unexplained: true}},
		{"pending, yet every webhook eligible", Observed{Found: true, Status: "pending", States: states("eligible", "eligible", "eligible"), Deadline: true,
			Validated: three(el, el, el)}, want{unexplained: true}},
		{"pending, a delivery never made", Observed{Found: true, Status: "pending", States: states("eligible", "eligible", "pending"), Deadline: true,
			Validated: three(el, el, Validated{})}, want{unexplained: true}},
		{"stranded deliveries, yet no review deadline", Observed{Found: true, Status: "pending", States: states("failed", "pending", "called"), Stranded: true,
			Validated: three(failing, Validated{}, silent)}, want{unexplained: true}},
		{"pending, two deliveries never made", Observed{Found: true, Status: "pending", States: states("pending", "pending", "called"), Deadline: true,
			Validated: three(Validated{}, Validated{}, silent)}, want{unexplained: true}},
		{"approved without a configured webhook", with(approved, func(o *Observed) { o.States["c"], o.Validated["c"] = "called", silent }), want{unexplained: true}},
		{"approved without a removed webhook, not on the timeline", with(approved, func(o *Observed) {
			o.States["c"], o.Validated["c"] = "called", silent
			o.Removed = map[string]bool{"c": true}
		}), want{unexplained: true}},
		{"approved although not eligible", with(approved, func(o *Observed) { o.States["a"], o.Validated["a"] = "not_eligible", ne }), want{unexplained: true}},
		{"not eligible, no webhook said so", Observed{Found: true, Status: "pre_approval_not_eligible", States: states("eligible", "called", "called"),
			Validated: three(el, silent, silent)}, want{unexplained: true}},
		{"a reply its validator never sent", Observed{Found: true, Status: "pending", States: states("eligible", "eligible", "called"), Deadline: true,
			Validated: three(el, sound, silent)}, want{unexplained: true}},
		{"a status no run makes", with(approved, func(o *Observed) { o.Status = "denied" }), want{unexplained: true}},
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
	if err != nil || s.requests != 300 || s.settle.Minutes() != 2 || s.concurrency != 16 || s.faults.Rate("DynamoDB_20120810.UpdateItem", "throttle") != 0.025 {
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

func TestTagIDs(t *testing.T) {
	body := []byte(`{"Entries":[{"MessageBody":"{\"privacy_request_id\":\"pri_0a1b2c3d-0000-4000-8000-00000000000a\"}"},` +
		`{"Key":{"id":{"S":"pri_0a1b2c3d-0000-4000-8000-00000000000b"}}},{"id":"pri_0a1b2c3d-0000-4000-8000-00000000000a"}]}`)
	got := tagIDs("", body)
	if len(got) != 2 || got[0] != "pri_0a1b2c3d-0000-4000-8000-00000000000a" || got[1] != "pri_0a1b2c3d-0000-4000-8000-00000000000b" {
		t.Fatalf("tags %v", got)
	}
}

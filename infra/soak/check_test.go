package main

import "testing"

func TestClassify(t *testing.T) {
	hooks := []string{"a", "b", "c"}
	all := func(s string) map[string]string { return map[string]string{"a": s, "b": s, "c": s} }
	eligibleAll := map[string]Answer{"a": Eligible, "b": Eligible, "c": Eligible}
	cases := []struct {
		name                string
		o                   Observed
		lost, double, stuck bool
	}{
		{"missing", Observed{}, true, false, false},
		{"approved once", Observed{Found: true, Status: "approved", States: all("eligible"), Decisions: 1, Messages: 1, Accepted: eligibleAll}, false, false, false},
		{"approved, no message", Observed{Found: true, Status: "approved", States: all("eligible"), Decisions: 1, Accepted: eligibleAll}, true, false, false},
		{"approved, two messages", Observed{Found: true, Status: "approved", States: all("eligible"), Decisions: 1, Messages: 2, Accepted: eligibleAll}, false, true, false},
		{"two decisions", Observed{Found: true, Status: "approved", States: all("eligible"), Decisions: 2, Messages: 1, Accepted: eligibleAll}, false, true, false},
		{"all eligible, still awaiting", Observed{Found: true, Status: "awaiting_pre_approval", States: all("eligible"), Accepted: eligibleAll}, true, false, false},
		{"accepted reply not kept", Observed{Found: true, Status: "awaiting_pre_approval", States: all("called"), Accepted: map[string]Answer{"a": Eligible}}, true, false, false},
		{"flagged", Observed{Found: true, Status: "pre_approval_not_eligible", States: map[string]string{"a": "not_eligible", "b": "eligible", "c": "called"},
			Accepted: map[string]Answer{"a": NotEligible, "b": Eligible}}, false, false, false},
		{"not eligible, yet approved", Observed{Found: true, Status: "approved", States: map[string]string{"a": "not_eligible", "b": "eligible", "c": "eligible"},
			Decisions: 1, Messages: 1, Accepted: map[string]Answer{"a": NotEligible, "b": Eligible, "c": Eligible}}, true, false, false},
		{"silent validator waits", Observed{Found: true, Status: "awaiting_pre_approval", States: map[string]string{"a": "eligible", "b": "eligible", "c": "called"},
			Accepted: map[string]Answer{"a": Eligible, "b": Eligible}}, false, false, true},
		{"failed delivery waits", Observed{Found: true, Status: "pending", States: map[string]string{"a": "eligible", "b": "failed", "c": "eligible"},
			Accepted: map[string]Answer{"a": Eligible, "c": Eligible}}, false, false, true},
		{"failed delivery, still awaiting", Observed{Found: true, Status: "awaiting_pre_approval", States: map[string]string{"a": "eligible", "b": "failed", "c": "eligible"},
			Accepted: map[string]Answer{"a": Eligible, "c": Eligible}}, true, false, false},
		{"delivery never made", Observed{Found: true, Status: "awaiting_pre_approval", States: map[string]string{"a": "eligible", "b": "pending", "c": "eligible"},
			Accepted: map[string]Answer{"a": Eligible, "c": Eligible}}, true, false, false},
		{"reply without answer", Observed{Found: true, Status: "awaiting_pre_approval", States: all("called"), Unsure: true}, true, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := classify(tc.o, hooks)
			if v.Lost != tc.lost || v.DoubleDecided != tc.double || v.Stuck != tc.stuck {
				t.Fatalf("got lost=%v double=%v stuck=%v (%s), want %v %v %v", v.Lost, v.DoubleDecided, v.Stuck, v.Why, tc.lost, tc.double, tc.stuck)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"SOAK_REQUESTS": "300", "SOAK_SETTLE": "2m"}
	s, err := load(func(k string) string { return env[k] })
	if err != nil || s.requests != 300 || s.settle.Minutes() != 2 || s.concurrency != 16 {
		t.Fatalf("%+v %v", s, err)
	}
	for k, v := range map[string]string{"SOAK_REQUESTS": "0", "SOAK_CONCURRENCY": "x", "SOAK_SETTLE": "-1s", "SOAK_SEED": "-3"} {
		if _, err := load(func(key string) string {
			if key == k {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	if s, _ := load(func(string) string { return "" }); s.requests != 5000 {
		t.Fatalf("default requests %d, want 5000", s.requests)
	}
}

package stack

import (
	"strconv"
	"testing"
)

// The validators' reply routes must not share the anonymous routes' limits:
// junk submissions or tokens on those could otherwise hold every reply back,
// and a request with 50 webhooks needs 50 replies.
func TestReplyRoutesHaveTheirOwnThrottling(t *testing.T) {
	tmpl := repoTemplate(t)
	settings, _ := tmpl.Resources["HttpApi"].Properties["RouteSettings"].(map[string]any)
	want := map[string][2]string{
		"POST /api/v1/privacy-request":                               {"PublicRateLimit", "PublicBurstLimit"},
		"POST /api/v1/privacy-request/{id}/verify":                   {"PublicRateLimit", "PublicBurstLimit"},
		"POST /api/v1/privacy-request/{id}/pre-approve/eligible":     {"ReplyRateLimit", "ReplyBurstLimit"},
		"POST /api/v1/privacy-request/{id}/pre-approve/not-eligible": {"ReplyRateLimit", "ReplyBurstLimit"},
	}
	for route, params := range want {
		s, ok := settings[route].(map[string]any)
		if !ok {
			t.Errorf("HttpApi RouteSettings has no entry for %s", route)
			continue
		}
		for i, key := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
			ref, _ := s[key].(map[string]any)
			if ref["Ref"] != params[i] {
				t.Errorf("%s %s = %v, want !Ref %s", route, key, s[key], params[i])
			}
		}
	}
	number := func(name string) int {
		n, err := strconv.Atoi(tmpl.Parameters[name])
		if err != nil {
			t.Fatalf("parameter %s default %q: %v", name, tmpl.Parameters[name], err)
		}
		return n
	}
	// 50 validators replying at once to one request fit the burst, and one
	// such request's replies fit a second of the steady rate.
	if b := number("ReplyBurstLimit"); b < 50 {
		t.Errorf("ReplyBurstLimit default %d: 50 validators replying at once would be throttled", b)
	}
	if r := number("ReplyRateLimit"); r < 50 {
		t.Errorf("ReplyRateLimit default %d: below one request's 50 replies a second", r)
	}
}

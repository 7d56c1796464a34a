package timelinecode

import (
	"testing"

	"github.com/pregate/pregate/internal/gate"
)

// The codes name the domain's actions, and stay where they are.
func TestCodes(t *testing.T) {
	for code, action := range map[int]string{1: gate.ActionWebhookTriggered, 2: gate.ActionWebhookCalled, 3: gate.ActionWebhookFailed,
		4: gate.ActionEligible, 5: gate.ActionNotEligible, 6: gate.ActionApproved, 7: gate.ActionDenied,
		8: gate.ActionIdentityVerified, 9: gate.ActionStatusChanged, 10: "pre_approval_webhook_removed"} {
		if Code(action) != code || Action(code) != action {
			t.Errorf("%s: code %d, action of %d %q", action, Code(action), code, Action(code))
		}
	}
	if Code("something_new") != 0 || Action(0) != "" || Action(99) != "" || Code("") != 0 {
		t.Error("unknown actions and codes")
	}
}

// Package timelinecode holds the codes the requests table stores a timeline
// entry's action as (internal/dynamo, docs/storage.md "Largest item"). It is
// its own package, free of the AWS SDK, so that the stream function can read
// stored entries without linking DynamoDB's client.
package timelinecode

import "slices"

// actions are the stored codes of the timeline actions: an action's code is
// its position. Append only: stored items name actions by these positions.
var actions = []string{1: "pre_approval_webhook_triggered", 2: "pre_approval_webhook_called", 3: "pre_approval_webhook_failed",
	4: "pre_approval_eligible", 5: "pre_approval_not_eligible", 6: "approved", 7: "denied",
	8: "identity_verified", 9: "status_changed", 10: "pre_approval_webhook_removed"}

// Code is the code of action, 0 when it has none (it is then stored as text).
func Code(action string) int {
	if action == "" {
		return 0
	}
	return max(slices.Index(actions, action), 0)
}

// Action is the action of code, "" for a code that has none.
func Action(code int) string {
	if code <= 0 || code >= len(actions) {
		return ""
	}
	return actions[code]
}

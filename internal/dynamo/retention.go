package dynamo

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// finished reports whether a request in status s is done with the gate:
// approved (handed to execution) or denied. No move leaves these statuses.
func finished(s gate.Status) bool { return s == gate.StatusApproved || s == gate.StatusDenied }

// UnverifiedRetention is how long a request left identity_unverified is
// kept: its code's lifetime plus a day. After that it can never be verified
// (the subject submits again), so its personal data goes.
const UnverifiedRetention = gate.CodeTTL + 24*time.Hour

// expiry is the TTL value of a write leaving a request in status to at at:
// UnverifiedRetention after its creation for a request awaiting identity
// verification (the verifying write removes it), and for a finished one,
// set once by the write that finishes it, when a retention is configured.
func (s *RequestStore) expiry(to gate.Status, at time.Time) (types.AttributeValue, bool) {
	switch {
	case to == gate.StatusIdentityUnverified:
		return epochSeconds(at.Add(UnverifiedRetention)), true
	case s.FinishedRetention > 0 && finished(to):
		return epochSeconds(at.Add(s.FinishedRetention)), true
	}
	return nil, false
}

func epochSeconds(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

package dynamo

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// expiresAttr is the requests table's TTL attribute (template.yaml's
// TimeToLiveSpecification): epoch seconds after which DynamoDB deletes the
// item, personal data included, usually within a few days.
const expiresAttr = "expires_at"

// finished reports whether a request in status s is done with the gate:
// approved (handed to execution) or denied. No move leaves these statuses.
func finished(s gate.Status) bool { return s == gate.StatusApproved || s == gate.StatusDenied }

// expiry is the TTL value of a write moving a request to status to at at: set
// once, by the write that finishes it, when a retention is configured.
func (s *RequestStore) expiry(to gate.Status, at time.Time) (types.AttributeValue, bool) {
	if s.FinishedRetention <= 0 || !finished(to) {
		return nil, false
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(s.FinishedRetention).Unix(), 10)}, true
}

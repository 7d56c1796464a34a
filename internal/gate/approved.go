package gate

import (
	"context"
	"time"
)

// ApprovedMessage tells downstream execution that a request was approved.
// ApprovedBy is "" for an automatic approval.
type ApprovedMessage struct {
	PrivacyRequestID string
	PolicyAction     string
	ApprovedAt       time.Time
	ApprovedBy       string
}

// ApprovedPublisher puts approvals on the approved queue. Publishing the same
// request twice must deliver it once.
type ApprovedPublisher interface {
	PublishApproved(ctx context.Context, m ApprovedMessage) error
}

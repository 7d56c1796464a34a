// Package logkey names the attributes of our JSON log lines. Every log call
// uses these constants, so a CloudWatch Logs Insights query written against
// one function's lines (`filter privacy_request_id = "pri_…"`) finds the
// same key in every other function's lines.
package logkey

// The stable keys (STYLE.md): the correlation ids of a privacy request's
// journey and the request's status.
const (
	PrivacyRequestID = "privacy_request_id"
	WebhookKey       = "webhook_key"
	DeliveryID       = "delivery_id"
	Attempt          = "attempt"
	Status           = "status" // a privacy request's status, never an HTTP status
	// AWSRequestID is the Lambda invocation's request id, added to every
	// line by the logger internal/app builds; no call passes it.
	AWSRequestID = "aws_request_id"
)

// Keys that would otherwise be confused with the stable ones.
const (
	StatusCode   = "status_code"    // an HTTP status (ours or a validator's), never "status"
	APIRequestID = "api_request_id" // API Gateway's request id, distinct from the Lambda one
)

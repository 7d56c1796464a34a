package webhook

import (
	"context"
	"errors"
	"net/http"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.Caller = (*Client)(nil)

// Call is Post seen by the dispatcher: the outcome as a gate.CallResult.
func (c *Client) Call(ctx context.Context, url string, header http.Header, body []byte) gate.CallResult {
	out, err := c.Post(ctx, url, header, body)
	if err == nil {
		return gate.CallResult{OK: true, StatusCode: out.StatusCode}
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		return gate.CallResult{StatusCode: de.StatusCode, Retryable: de.Retryable, Reason: de.Reason}
	}
	return gate.CallResult{StatusCode: out.StatusCode, Retryable: true, Reason: "request failed"}
}

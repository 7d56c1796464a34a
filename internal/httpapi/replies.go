package httpapi

import (
	"context"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/metrics"
)

// ReplyRoutes serve the validators' replies. They are public in
// API Gateway: the reply token in the Authorization header is the credential.
// Each reply that reaches the domain counts in m (answer, accepted or refused).
func ReplyRoutes(u *gate.Replies, m *metrics.Emitter) []Route {
	return []Route{
		{Key: "POST /api/v1/privacy-request/{id}/pre-approve/eligible", Handle: replyHandler(u, m, gate.WebhookEligible)},
		{Key: "POST /api/v1/privacy-request/{id}/pre-approve/not-eligible", Handle: replyHandler(u, m, gate.WebhookNotEligible)},
	}
}

func replyHandler(u *gate.Replies, m *metrics.Emitter, answer gate.WebhookState) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		token, ok := BearerToken(r.Header("Authorization"))
		if !ok {
			return Response{}, &gate.UnauthenticatedError{Msg: msgFailedToAuthenticate}
		}
		// The body is ignored: validators send {}.
		err := u.Reply(ctx, token, r.Path("id"), answer)
		m.Reply(r.Path("id"), string(answer), err == nil)
		if err != nil {
			return Response{}, err
		}
		return OK(nil)
	}
}

package httpapi

import (
	"context"

	"github.com/pregate/pregate/internal/gate"
)

// ReplyRoutes serve the validators' replies (SPEC §3.7). They are public in
// API Gateway: the reply token in the Authorization header is the credential.
func ReplyRoutes(u *gate.Replies) []Route {
	return []Route{
		{Key: "POST /api/v1/privacy-request/{id}/pre-approve/eligible", Handle: replyHandler(u, gate.WebhookEligible)},
		{Key: "POST /api/v1/privacy-request/{id}/pre-approve/not-eligible", Handle: replyHandler(u, gate.WebhookNotEligible)},
	}
}

func replyHandler(u *gate.Replies, answer gate.WebhookState) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		token, ok := BearerToken(r.Header("Authorization"))
		if !ok {
			return Response{}, &gate.UnauthenticatedError{Msg: msgFailedToAuthenticate}
		}
		// The body is ignored: validators send {} (SPEC §3.7).
		if err := u.Reply(ctx, token, r.Path("id"), answer); err != nil {
			return Response{}, err
		}
		return OK(nil)
	}
}

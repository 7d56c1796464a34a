package keys

import (
	"errors"
	"fmt"

	"github.com/pregate/pregate/internal/gate"
)

// VerifyReply serves gate.ReplyTokenVerifier: Verify, with its outcomes
// mapped to the domain's two refusals.
func (t *Tokens) VerifyReply(token string) (gate.ReplyClaims, error) {
	c, err := t.Verify(token)
	switch {
	case errors.Is(err, ErrTokenExpired):
		return gate.ReplyClaims{}, fmt.Errorf("%w: %w", gate.ErrReplyTokenExpired, err)
	case err != nil:
		return gate.ReplyClaims{}, fmt.Errorf("%w: %w", gate.ErrReplyTokenInvalid, err)
	}
	return gate.ReplyClaims{WebhookKey: c.WebhookKey, PrivacyRequestID: c.PrivacyRequestID, Run: c.Run}, nil
}

var _ gate.ReplyTokenVerifier = (*Tokens)(nil)

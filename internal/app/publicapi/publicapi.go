// Package publicapi wires the public API function: health, submission,
// identity verification, validator replies. It builds the DynamoDB, Secrets
// Manager and (with verification on) SES clients, and no other.
package publicapi

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/identitykey"
	"github.com/pregate/pregate/internal/app/replytokens"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/email"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
)

// API is the public routes; a reply first waits for the reply-token key
// set, read in the background from the cold start on (the other routes do
// not use it), and has it read again when it is older than
// replytokens.RefreshAfter.
type API struct {
	*httpapi.API
	tokens     *replytokens.Tokens
	replyRoute map[string]bool
}

// Handle serves one API Gateway request.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if a.replyRoute[ev.RouteKey] {
		if err := a.tokens.Ready(ctx); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	return a.API.Handle(ctx, ev)
}

// New serves the public routes: health, submission, verification, replies.
func New(ctx context.Context, d app.Deps) (*API, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "DELIVERY_LOG_TABLE", d.Config.DeliveryLogTable,
		"REPLY_TOKEN_SECRET_ID", d.Config.ReplyTokenSecretID); err != nil {
		return nil, err
	}
	store := stores.Requests(d)
	reqs := stores.RequestCases(d, store)
	key, err := identitykey.Start(d)
	if err != nil {
		return nil, err
	}
	reqs.IdentityKey = key
	if d.Config.IdentityVerificationRequired {
		if err := config.Require("VERIFICATION_SENDER_EMAIL", d.Config.VerificationSenderEmail); err != nil {
			return nil, err
		}
		reqs.VerifyIdentity = true
		reqs.Codes = email.NewCodeMailer(sesv2.NewFromConfig(d.AWS), d.Config.VerificationSenderEmail, d.Config.VerificationEmailTemplate)
	}
	tokens := replytokens.Start(d)
	log := stores.DeliveryLog(d)
	replies := &gate.Replies{Store: store, Webhooks: reqs.Webhooks, Tokens: tokens, Now: d.Now, Log: d.Log, Attempts: log, Tests: log}
	replyRoutes := httpapi.ReplyRoutes(replies, d.Metrics)
	replyRoute := map[string]bool{}
	for _, r := range replyRoutes {
		replyRoute[r.Key] = true
	}
	api := httpapi.New(d.Log, d.Config.ScopePrefix, httpapi.HealthRoutes(), httpapi.PublicRequestRoutes(reqs), replyRoutes)
	api.AllowCORS(d.Config.PublicCORSOrigins, httpapi.SubmitRouteKey, httpapi.VerifyRouteKey)
	return &API{API: api, tokens: tokens, replyRoute: replyRoute}, nil
}

// Package adminapi wires the admin API function: connections, pre-approval
// webhooks (with their delivery log, health and test calls), review of
// privacy requests, policies, the access log, and the admin console's page
// and assets. It builds the DynamoDB, KMS, SQS (a test call goes through
// the dispatch queue) and Secrets Manager (the identity hash key) clients,
// and no other.
package adminapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/configadmin"
	"github.com/pregate/pregate/internal/app/identitykey"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/console"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/queue"
)

// New serves the admin routes and the admin console.
func New(ctx context.Context, d app.Deps) (*httpapi.API, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "SECRETS_KEY_ID", d.Config.SecretsKeyID,
		"ACCESS_LOG_TABLE", d.Config.AccessLogTable, "DELIVERY_LOG_TABLE", d.Config.DeliveryLogTable, "DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL); err != nil {
		return nil, err
	}
	admin, log := configadmin.New(d), stores.DeliveryLog(d)
	activity := &gate.WebhookActivity{Webhooks: stores.Config(d), Log: log, Now: d.Now}
	tests := &gate.WebhookTests{Admin: admin, Tests: log, Queue: queue.NewDispatchQueue(sqs.NewFromConfig(d.AWS), d.Config.DispatchQueueURL), Now: d.Now}
	reqs := stores.RequestCases(d, stores.Requests(d))
	key, err := identitykey.Start(d)
	if err != nil {
		return nil, err
	}
	reqs.IdentityKey = key
	reqs.Access = stores.AccessLog(d)
	return httpapi.New(d.Log, d.Config.ScopePrefix, httpapi.ConfigRoutes(admin), httpapi.AdminRequestRoutes(reqs),
		httpapi.PolicyRoutes(stores.Policies(d)), httpapi.AccessLogRoutes(stores.AccessLog(d)),
		httpapi.WebhookActivityRoutes(activity), httpapi.WebhookTestRoutes(tests), adminConsole(d).Routes()), nil
}

// adminConsole is the admin console, built from the embedded assets when first
// asked; it asks the issuer for every admin scope, named as the issuer names them.
func adminConsole(d app.Deps) *console.Site {
	c := d.Config.Console
	scopes := make([]string, len(console.AdminScopes))
	for i, s := range console.AdminScopes {
		scopes[i] = d.Config.ScopePrefix + s
	}
	return console.New(console.Config{AuthorizeURL: c.AuthorizeURL, TokenURL: c.TokenURL, LogoutURL: c.LogoutURL, ClientID: c.ClientID, Scopes: scopes})
}

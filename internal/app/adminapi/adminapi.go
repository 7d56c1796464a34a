// Package adminapi wires the admin API function: connections, pre-approval
// webhooks, review of privacy requests. It builds the DynamoDB and KMS
// clients, and no other.
package adminapi

import (
	"context"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/configadmin"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/httpapi"
)

// New serves the admin routes.
func New(_ context.Context, d app.Deps) (*httpapi.API, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "SECRETS_KEY_ID", d.Config.SecretsKeyID); err != nil {
		return nil, err
	}
	return httpapi.New(d.Log, d.Config.ScopePrefix, httpapi.ConfigRoutes(configadmin.New(d)), httpapi.AdminRequestRoutes(stores.RequestCases(d, stores.Requests(d)))), nil
}

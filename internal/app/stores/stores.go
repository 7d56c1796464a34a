// Package stores builds the DynamoDB adapters and the privacy-request use
// cases on them, for the functions that read or write the tables.
package stores

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// Requests is the requests table.
func Requests(d app.Deps) *dynamo.RequestStore {
	s := dynamo.NewRequestStore(dynamodb.NewFromConfig(d.AWS, dynamo.RetryConflicts), d.Config.RequestsTable).WithReconcileAfter(d.Config.ReconcileAfter)
	s.FinishedRetention = d.Config.FinishedRequestRetention
	return s
}

// Config is the config table (connections, the webhook set); it is also the
// gate.WebhookLister that submission and replies use.
func Config(d app.Deps) *dynamo.ConfigStore {
	return dynamo.NewConfigStore(dynamodb.NewFromConfig(d.AWS, dynamo.RetryConflicts), d.Config.ConfigTable)
}

// RequestCases builds the privacy-request use cases; the snapshot of
// webhooks comes from the config table.
func RequestCases(d app.Deps, store *dynamo.RequestStore) *gate.Requests {
	return &gate.Requests{
		Store:                 store,
		Webhooks:              Config(d),
		RequireManualApproval: d.Config.RequireManualApproval,
		Now:                   d.Now,
		NewID:                 gate.NewRequestID,
		Log:                   d.Log,
		Policies:              dynamo.NewPolicyStore(dynamodb.NewFromConfig(d.AWS), d.Config.ConfigTable),
		Deadlines:             store,
	}
}

// Policies are the policies' timeframes, in the config table.
func Policies(d app.Deps) *gate.PolicyCases {
	return &gate.PolicyCases{Store: dynamo.NewPolicyStore(dynamodb.NewFromConfig(d.AWS), d.Config.ConfigTable), Now: d.Now}
}

// AccessLog is the access-log table.
func AccessLog(d app.Deps) *dynamo.AccessLog {
	return dynamo.NewAccessLog(dynamodb.NewFromConfig(d.AWS), d.Config.AccessLogTable)
}

// DeliveryLog is the delivery-log table: every call attempt of every
// webhook, its counts for the webhook's health, and test calls.
func DeliveryLog(d app.Deps) *dynamo.DeliveryLog {
	return dynamo.NewDeliveryLog(dynamodb.NewFromConfig(d.AWS), d.Config.DeliveryLogTable)
}

// Command review-deadline is the scheduled Lambda that sweeps the waiting
// requests: it approves those whose still-configured webhooks have all
// replied eligible, and moves those left awaiting pre-approval past
// REVIEW_DEADLINE to pending.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/sweep"
)

func main() { lambda.Start(app.Must(sweep.New).Handle) }

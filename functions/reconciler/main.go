// Command reconciler is the scheduled Lambda (every minute) that completes
// what is overdue: deliveries never made, approvals never decided or never
// published, and requests left awaiting pre-approval past REVIEW_DEADLINE.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/reconciler"
)

func main() { lambda.Start(app.Must(reconciler.New).Handle) }

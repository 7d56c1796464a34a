// Command review-deadline is the scheduled Lambda that moves requests left
// awaiting pre-approval past REVIEW_DEADLINE to pending.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
)

func main() { lambda.Start(app.Must(app.NewReviewDeadlineSweep).Handle) }

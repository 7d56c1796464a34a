// Command stream is the Lambda function on the requests table's stream: it
// enqueues webhook deliveries and publishes approvals.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/streamfn"
)

func main() { lambda.Start(app.Must(streamfn.New).Handle) }

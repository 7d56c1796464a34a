// Command dispatcher is the Lambda function that calls the validators, one SQS message per delivery.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
)

func main() { lambda.Start(app.Must(app.NewDispatcher).Handle) }

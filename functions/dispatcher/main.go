// Command dispatcher is the Lambda function that calls the validators, one SQS message per delivery.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/dispatcher"
)

func main() { lambda.Start(app.Must(dispatcher.New).Handle) }

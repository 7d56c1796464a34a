// Command public-api is the Lambda function serving the public routes: submission, identity verification, validator replies, health.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
)

func main() { lambda.Start(app.Must(app.NewPublicAPI).Handle) }

// Command public-api is the Lambda function serving the public routes: submission, identity verification, validator replies, health.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/publicapi"
)

func main() { lambda.Start(app.Must(publicapi.New).Handle) }

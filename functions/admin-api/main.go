// Command admin-api is the Lambda function serving the admin routes: connections, pre-approval webhooks, review of privacy requests.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/adminapi"
)

func main() { lambda.Start(app.Must(adminapi.New).Handle) }

// Package awsenv builds the AWS SDK configuration every adapter shares.
package awsenv

import (
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// IdleConnsPerHost is how many connections to one endpoint the function
// keeps open between calls: a listing sends up to 32 index queries at once
// (a due listing of the open and the decided sets, 16 shards each), and the
// SDK's default of 10 would close and handshake again all but 10 of them
// at every page.
const IdleConnsPerHost = 32

// FromEnvironment is the configuration Lambda gives a function: the region
// and the execution role's credentials, which Lambda sets as environment
// variables, and AWS_ENDPOINT_URL when set (moto, LocalStack). It reads
// them directly rather than through the SDK's config loader, whose shared
// files, profiles, SSO and STS providers a function never uses but would
// link and initialize at every cold start.
func FromEnvironment(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them)")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN")),
		// One HTTP client for every service client of the function: each
		// builds a transport of its own otherwise, and a function with a
		// client per table opened (and TLS-handshook) a connection per
		// client to the same endpoint.
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = IdleConnsPerHost
		}),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// Emulator is the configuration for a local emulator at endpoint: a fixed
// region and dummy credentials, so no AWS account or profile is consulted.
func Emulator(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
		// moto sends no CRC32 for some DynamoDB responses; the SDK would retry on a mismatch otherwise.
		RetryMaxAttempts: 3,
	}
}

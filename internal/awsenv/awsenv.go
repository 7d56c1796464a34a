// Package awsenv loads the AWS SDK configuration every adapter shares.
package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Load reads the standard SDK configuration. AWS_ENDPOINT_URL (and the
// per-service AWS_ENDPOINT_URL_<SERVICE>) are honoured by the SDK itself, so
// the same binary talks to moto, LocalStack or AWS.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
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

package awsenv

import (
	"context"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestFromEnvironment(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
	cfg, err := FromEnvironment(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AK" || creds.SecretAccessKey != "SK" || creds.SessionToken != "ST" {
		t.Fatalf("credentials %+v, %v", creds, err)
	}
	if cfg.Region != "eu-west-1" || cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:5000" {
		t.Fatalf("region %q endpoint %v", cfg.Region, cfg.BaseEndpoint)
	}
	delete(env, "AWS_SECRET_ACCESS_KEY")
	if _, err := FromEnvironment(func(k string) string { return env[k] }); err == nil {
		t.Fatal("built without credentials")
	}
}

// TestFromEnvironmentSharesOneHTTPClient: every service client built from
// the configuration sends through one HTTP client, so one pool of
// connections (and one TLS handshake per endpoint) serves the function.
func TestFromEnvironmentSharesOneHTTPClient(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
	cfg, err := FromEnvironment(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tables, log := dynamodb.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	queue := sqs.NewFromConfig(cfg)
	if cfg.HTTPClient == nil || tables.Options().HTTPClient != cfg.HTTPClient || log.Options().HTTPClient != cfg.HTTPClient ||
		queue.Options().HTTPClient != cfg.HTTPClient {
		t.Fatalf("HTTP clients: config %p, two DynamoDB clients %p %p, SQS %p", cfg.HTTPClient,
			tables.Options().HTTPClient, log.Options().HTTPClient, queue.Options().HTTPClient)
	}
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); !ok || b.GetTransport().MaxIdleConnsPerHost != IdleConnsPerHost {
		t.Errorf("the shared client does not keep %d connections per endpoint open: %T", IdleConnsPerHost, cfg.HTTPClient)
	}
}

package backlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/backlog"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The backlog is the largest ApproximateAgeOfOldestMessage of the queue
// since the time asked, not an older one, and not another queue's.
func TestBacklogReadsTheQueuesOldestMessageAge(t *testing.T) {
	cfg := awstest.Endpoint(t)
	cw := cloudwatch.NewFromConfig(cfg, backlog.QueryProtocol)
	ctx := context.Background()
	name := awstest.UniqueName("dispatch")
	now := time.Now().UTC().Truncate(time.Minute)
	put := func(queueName string, at time.Time, seconds float64) {
		t.Helper()
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/SQS"), MetricData: []types.MetricDatum{{
			MetricName: aws.String("ApproximateAgeOfOldestMessage"), Timestamp: aws.Time(at), Value: aws.Float64(seconds), Unit: types.StandardUnitSeconds,
			Dimensions: []types.Dimension{{Name: aws.String("QueueName"), Value: aws.String(queueName)}},
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	put(name, now.Add(-3*time.Hour), 7200) // before the window asked
	put(name, now.Add(-20*time.Minute), 1500)
	put(name, now.Add(-10*time.Minute), 2400)
	put(name, now.Add(-5*time.Minute), 600)
	put(name+"-other", now.Add(-10*time.Minute), 9000)
	r := backlog.New(cw, "https://sqs.us-east-1.amazonaws.com/123456789012/"+name, func() time.Time { return now })
	age, err := r.OldestMessageAge(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if age != 40*time.Minute {
		t.Fatalf("backlog %s, want 40m0s", age)
	}
	if age, err := backlog.New(cw, "https://sqs.us-east-1.amazonaws.com/123456789012/"+name+"-none", time.Now).OldestMessageAge(ctx, now.Add(-time.Hour)); err != nil || age != 0 {
		t.Fatalf("a queue without data: %s, %v; want 0", age, err)
	}
}

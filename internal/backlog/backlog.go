// Package backlog reads how long messages wait in an SQS queue from
// CloudWatch, the one function that needs it (the reconciler) apart from the
// queue adapter every function links.
package backlog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pregate/pregate/internal/gate"
)

// Reader reads how long messages wait in a queue from the metric SQS
// itself publishes, ApproximateAgeOfOldestMessage (per minute, in
// CloudWatch): the age of the oldest message not deleted, in flight or not.
type Reader struct {
	cw    *cloudwatch.Client
	queue string // the queue's name, the metric's QueueName dimension
	now   func() time.Time
}

var _ gate.QueueBacklog = (*Reader)(nil)

// QueryProtocol is the CloudWatch client option the backlog's client is
// built with: the service's Query protocol, which it still serves, instead
// of the SDK's default (CBOR), which the local emulator does not speak; so
// the code read in AWS is the one tested here.
func QueryProtocol(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
}

// backlogLookback bounds the window read: at most a day of minutes.
const backlogLookback = 24 * time.Hour

// New reads the backlog of the queue at queueURL.
func New(cw *cloudwatch.Client, queueURL string, now func() time.Time) *Reader {
	return &Reader{cw: cw, queue: queueURL[strings.LastIndex(queueURL, "/")+1:], now: now}
}

// OldestMessageAge is the largest age the queue's oldest message reached
// in the minutes since since (at most a day back); 0 without data points.
func (b *Reader) OldestMessageAge(ctx context.Context, since time.Time) (time.Duration, error) {
	end := b.now()
	start := since
	if lookback := end.Add(-backlogLookback); start.Before(lookback) {
		start = lookback
	}
	start = start.Truncate(time.Minute)
	out, err := b.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end.Add(time.Minute)),
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String("age"),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateAgeOfOldestMessage"),
					Dimensions: []types.Dimension{{Name: aws.String("QueueName"), Value: aws.String(b.queue)}}},
				Period: aws.Int32(60), Stat: aws.String("Maximum"), Unit: types.StandardUnitSeconds,
			},
		}},
	})
	if err != nil {
		return 0, fmt.Errorf("read the age of the oldest message of %s: %w", b.queue, err)
	}
	var oldest float64
	for _, r := range out.MetricDataResults {
		for _, v := range r.Values {
			oldest = max(oldest, v)
		}
	}
	return time.Duration(oldest * float64(time.Second)), nil
}

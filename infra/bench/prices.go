package main

import (
	"math"
	"strings"
	"time"
)

// Prices are AWS list prices for us-east-1 in USD, first tier, without the
// free tier, as published on 2026-11-27 (the date this table was written):
// https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs),
// https://aws.amazon.com/lambda/pricing/ (Arm),
// https://aws.amazon.com/dynamodb/pricing/on-demand/ (write and read request units),
// https://aws.amazon.com/sqs/pricing/, https://aws.amazon.com/kms/pricing/.
var Prices = struct {
	Date                   string
	HTTPAPIPerMillion      float64 // API Gateway HTTP API requests (first 300 M a month)
	LambdaRequestPerMillon float64 // Lambda requests
	LambdaGBSecondArm64    float64 // Lambda duration, arm64 (first 7.5 bn GB-s a month)
	DynamoDBWRUPerMillion  float64 // DynamoDB on-demand write request units
	DynamoDBRRUPerMillion  float64 // DynamoDB on-demand read request units
	SQSStandardPerMillion  float64 // SQS standard queue requests (the dispatch queue)
	SQSFIFOPerMillion      float64 // SQS FIFO queue requests (the approved queue)
	KMSPerMillion          float64 // KMS requests ($0.03 per 10,000)
	LogsIngestionPerGB     float64 // CloudWatch Logs standard ingestion (https://aws.amazon.com/cloudwatch/pricing/)
}{
	Date:                   "2026-11-27",
	HTTPAPIPerMillion:      1.00,
	LambdaRequestPerMillon: 0.20,
	LambdaGBSecondArm64:    0.0000133334,
	DynamoDBWRUPerMillion:  0.625,
	DynamoDBRRUPerMillion:  0.125,
	SQSStandardPerMillion:  0.40,
	SQSFIFOPerMillion:      0.50,
	KMSPerMillion:          3.00,
	LogsIngestionPerGB:     0.50,
}

// lambdaMemoryGB is the template's MemorySize (128 MB).
const lambdaMemoryGB = 128.0 / 1024

// costBreakdown is the USD cost per million approved requests, by line.
type costBreakdown struct {
	APIGateway, LambdaRequests, LambdaDuration, DynamoDB, SQS, KMS float64
	// OtherTables are the write units to tables other than the requests
	// table made per request (a delivery log), printed apart.
	OtherTables float64
	Logs        float64 // CloudWatch Logs ingestion: ours, EMF metrics and Lambda's own lines
}

func (c costBreakdown) total() float64 {
	return c.APIGateway + c.LambdaRequests + c.LambdaDuration + c.DynamoDB + c.OtherTables + c.SQS + c.KMS + c.Logs
}

// Latencies is the AWS-side time each call is billed at in the Lambda
// duration line: what a function in the same region waits for a call, at
// the conservative end of what AWS documents (DynamoDB answers single-item
// operations in single-digit milliseconds). The run itself talks to moto on
// a shared machine, whose answers take 10 to 100 times as long: timing the
// handlers there would price the emulator, not the product.
var Latencies = struct {
	DynamoDBItem   time.Duration // GetItem, PutItem, UpdateItem, DeleteItem
	DynamoDBMulti  time.Duration // Query, BatchGetItem, transactions
	SQS, KMS       time.Duration
	Other          time.Duration // any other AWS call
	ValidatorReply time.Duration // a validator's answer to a delivery (202, then it replies on its own)
}{
	DynamoDBItem: 10 * time.Millisecond, DynamoDBMulti: 20 * time.Millisecond,
	SQS: 20 * time.Millisecond, KMS: 15 * time.Millisecond, Other: 20 * time.Millisecond,
	ValidatorReply: 100 * time.Millisecond,
}

// lambdaSeconds models the billed Lambda time of a run: our CPU time per
// request (measured, cpuPerRequest), every AWS call at its latency in
// Latencies, each validator delivery at ValidatorReply, and half a
// millisecond an invocation for rounding up to whole milliseconds.
func lambdaSeconds(r *systemRun, cpuPerRequest time.Duration) float64 {
	var wait time.Duration
	for k, n := range r.Calls {
		svc, op, _ := strings.Cut(k, "/")
		d := Latencies.Other
		switch {
		case svc == "DynamoDB" && (op == "GetItem" || op == "PutItem" || op == "UpdateItem" || op == "DeleteItem"):
			d = Latencies.DynamoDBItem
		case svc == "DynamoDB":
			d = Latencies.DynamoDBMulti
		case svc == "SQS":
			d = Latencies.SQS
		case svc == "KMS":
			d = Latencies.KMS
		}
		wait += time.Duration(n) * d
	}
	wait += time.Duration(r.M*r.N) * Latencies.ValidatorReply
	invocations := 0
	for _, ds := range r.Invocations {
		invocations += len(ds)
	}
	billed := wait + time.Duration(r.N)*cpuPerRequest + time.Duration(invocations)*time.Millisecond/2
	return billed.Seconds()
}

// measuredLambdaSeconds is the run's own handler time against moto, each
// invocation rounded up to 1 ms: an upper bound, printed beside the model.
func measuredLambdaSeconds(r *systemRun) float64 {
	var s float64
	for _, ds := range r.Invocations {
		for _, d := range ds {
			s += math.Ceil(float64(d)/float64(time.Millisecond)) / 1000
		}
	}
	return s
}

// cost prices one run per million approved requests. Every API handler
// invocation is one HTTP API request; Lambda duration is lambdaSeconds at
// 128 MB; DynamoDB is priced by the write and read units of the capacity
// model (capacity.go), indexes included; SQS by call and queue type, KMS by call.
func cost(r *systemRun, cpuPerRequest time.Duration) costBreakdown {
	perMillion := 1e6 / float64(r.N)
	var apiCalls, invocations int
	for fn, ds := range r.Invocations {
		if isAPIFunction(fn) {
			apiCalls += len(ds)
		}
		invocations += len(ds)
	}
	f := classify(r.Calls)
	standard, fifo := sqsCalls(r.Calls)
	sourceStandard, sourceFIFO := sqsCalls(r.EventSourceSQS)
	standard, fifo = standard+sourceStandard, fifo+sourceFIFO
	return costBreakdown{
		APIGateway:     float64(apiCalls) * perMillion * Prices.HTTPAPIPerMillion / 1e6,
		LambdaRequests: float64(invocations) * perMillion * Prices.LambdaRequestPerMillon / 1e6,
		LambdaDuration: lambdaSeconds(r, cpuPerRequest) * lambdaMemoryGB * perMillion * Prices.LambdaGBSecondArm64,
		DynamoDB:       (r.Writes.WCU*Prices.DynamoDBWRUPerMillion + r.Reads.RCU*Prices.DynamoDBRRUPerMillion) * perMillion / 1e6,
		OtherTables:    (r.Reads.OtherWCU*Prices.DynamoDBWRUPerMillion + r.Reads.LogRCU*Prices.DynamoDBRRUPerMillion) * perMillion / 1e6,
		SQS:            (float64(standard)*Prices.SQSStandardPerMillion + float64(fifo)*Prices.SQSFIFOPerMillion) * perMillion / 1e6,
		KMS:            float64(f.KMS) * perMillion * Prices.KMSPerMillion / 1e6,
		Logs:           float64(r.LogBytes+r.ServiceLogBytes) / 1e9 * Prices.LogsIngestionPerGB * perMillion,
	}
}

// describeRun prints, as comments, where one M=3 run's cost comes from.
func describeRun(rep *report, r *systemRun, c costBreakdown, cpuPerRequest time.Duration) {
	sourceStandard, sourceFIFO := sqsCalls(r.EventSourceSQS)
	rep.note("M=3 run: %d requests; prices of %s (us-east-1 list)", r.N, Prices.Date)
	for _, fn := range sortedKeys(r.Invocations) {
		ds := r.Invocations[fn]
		var total time.Duration
		for _, d := range ds {
			total += d
		}
		rep.note("  %s: %.2f invocations per request, mean %.1f ms", fn, float64(len(ds))/float64(r.N),
			float64(total)/float64(time.Millisecond)/float64(max(len(ds), 1)))
	}
	for _, k := range sortedKeys(r.Calls) {
		rep.note("  %s: %.2f per request", k, float64(r.Calls[k])/float64(r.N))
	}
	rep.note("  SQS event sources (receives that got messages, deletes): %.2f per request; logs: %.0f bytes per request of ours and EMF, plus %.0f of Lambda's own lines and the HTTP API's access log",
		float64(sourceStandard+sourceFIFO)/float64(r.N), float64(r.LogBytes)/float64(r.N), float64(r.ServiceLogBytes)/float64(r.N))
	rep.note("  cost per million: API Gateway %.2f, Lambda requests %.2f, Lambda duration %.2f, DynamoDB %.2f, other tables (delivery log) %.2f, SQS %.2f, KMS %.2f, CloudWatch Logs %.2f",
		c.APIGateway, c.LambdaRequests, c.LambdaDuration, c.DynamoDB, c.OtherTables, c.SQS, c.KMS, c.Logs)
	measured := measuredLambdaSeconds(r)
	rep.note("  Lambda duration modelled at %.0f ms per request (CPU %s measured, AWS calls and validator answers at the latencies in prices.go); the handlers took %.0f ms per request against moto here, which would price it at %.2f",
		lambdaSeconds(r, cpuPerRequest)*1000/float64(r.N), cpuPerRequest, measured*1000/float64(r.N),
		measured*lambdaMemoryGB*1e6/float64(r.N)*Prices.LambdaGBSecondArm64)
}

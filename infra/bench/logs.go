package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pregate/pregate/infra/stack"
)

// platformLogBytes is what Lambda itself logs per invocation at its system
// log level INFO, the default: its start and report records (about 120 and
// 200 bytes as JSON, more with a cold start's init duration), rounded up.
// At WARN, a successful invocation gets none.
const platformLogBytes = 320

// accessLogValues are what API Gateway puts for each variable of the access
// log's format, on the longest path a request takes (a validator's reply).
// A variable the template uses and this table lacks fails the bench.
var accessLogValues = map[string]string{
	"$context.requestId":               "JKx1zhQ9oAMEb8Q=",
	"$context.requestTime":             "07/Dec/2026:19:33:43 +0000",
	"$context.identity.sourceIp":       "203.0.113.10",
	"$context.httpMethod":              "POST",
	"$context.routeKey":                "POST /api/v1/privacy-request/{id}/pre-approve/not-eligible",
	"$context.path":                    "/api/v1/privacy-request/pri_0b5f6c1e-8d3a-4f7e-9c2d-1a2b3c4d5e6f/pre-approve/not-eligible",
	"$context.status":                  "200",
	"$context.responseLength":          "27",
	"$context.responseLatency":         "45",
	"$context.integrationLatency":      "41",
	"$context.integration.requestId":   "8f3e1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
	"$context.integrationErrorMessage": "-",
	"$context.authorizer.error":        "-",
}

var contextVariable = regexp.MustCompile(`\$context\.[A-Za-z.]*[A-Za-z]`)

// logModel is what CloudWatch Logs ingests per invocation beyond our own
// lines, as the template configures it: Lambda's lines per invocation of
// each function, and the HTTP API's access log line per API request.
type logModel struct {
	platform  map[string]int64 // bytes per invocation, by function
	accessLog int64            // bytes per API request
}

func newLogModel(t *stack.Template) (logModel, error) {
	m := logModel{platform: map[string]int64{}}
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		switch level := stack.Dig(r.Properties, "LoggingConfig", "SystemLogLevel"); level {
		case nil, "INFO", "DEBUG":
			m.platform[id] = platformLogBytes
		case "WARN":
		default:
			return logModel{}, fmt.Errorf("%s: SystemLogLevel %v", id, level)
		}
	}
	format, ok := stack.Dig(t.Resources["HttpApi"].Properties, "AccessLogSettings", "Format").(string)
	if !ok {
		return logModel{}, fmt.Errorf("HttpApi has no access log format")
	}
	var unknown []string
	line := contextVariable.ReplaceAllStringFunc(format, func(v string) string {
		value, ok := accessLogValues[v]
		if !ok {
			unknown = append(unknown, v)
		}
		return value
	})
	if len(unknown) > 0 {
		return logModel{}, fmt.Errorf("access log variables without a value in accessLogValues: %s", strings.Join(unknown, ", "))
	}
	m.accessLog = int64(len(line) + 1)
	return m, nil
}

// bytes is what these invocations add to our own lines.
func (m logModel) bytes(invocations map[string][]time.Duration) int64 {
	var n int64
	for fn, ds := range invocations {
		n += int64(len(ds)) * m.platform[fn]
		if isAPIFunction(fn) {
			n += int64(len(ds)) * m.accessLog
		}
	}
	return n
}

// isAPIFunction tells the functions behind the HTTP API: each of their
// invocations is one API request.
func isAPIFunction(fn string) bool { return strings.HasSuffix(fn, "ApiFunction") }

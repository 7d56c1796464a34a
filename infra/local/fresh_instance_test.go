package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/publicapi"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/keys"
	"github.com/pregate/pregate/internal/metrics"
)

// TestReplyToAFreshPublicAPIInstance sends a validator's reply to a public
// API instance in its first moments of life, as API Gateway does when a
// burst of replies makes Lambda start new instances: it is answered 200
// within API Gateway's 30 s, not refused, while the instance's read of the
// reply-token key set is slow, and when its first read fails.
func TestReplyToAFreshPublicAPIInstance(t *testing.T) {
	sys := system(t)
	c := admin(t)
	hook := unique("fresh")
	c.webhooks(hook)
	tokens := keys.NewTokens(replyKeys(t), time.Hour, nil)
	env, err := sys.Stack.FunctionEnv("PublicApiFunction", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		failFirst bool
	}{
		{"key set read delayed 2s", false},
		{"first read fails, the next delayed 2s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, status := c.submit()
			if status != "awaiting_pre_approval" {
				t.Fatalf("submitted request is %s", status)
			}
			token := mint(t, tokens, hook, id)
			slow := slowSecrets(t, aws.ToString(sys.AWS.BaseEndpoint), cfg.ReplyTokenSecretID, 2*time.Second, tc.failFirst)
			d := app.Deps{Config: cfg, AWS: awsenv.Emulator(slow), Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now,
				Metrics: metrics.New(io.Discard, cfg.MetricsNamespace, time.Now)}
			// API Gateway gives up on an integration after 30 s.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			api, err := publicapi.New(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := api.Handle(ctx, events.APIGatewayV2HTTPRequest{
				RouteKey:       "POST /api/v1/privacy-request/{id}/pre-approve/eligible",
				RawPath:        "/api/v1/privacy-request/" + id + "/pre-approve/eligible",
				PathParameters: map[string]string{"id": id},
				Headers:        map[string]string{"authorization": "Bearer " + token, "content-type": "application/json"},
				Body:           "{}",
			})
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("reply to a fresh instance: %d %s %v after %s, want 200", resp.StatusCode, resp.Body, err, time.Since(start))
			}
			t.Logf("answered after %s", time.Since(start).Round(time.Millisecond))
			var got requestOut
			c.must(200, "GET", "/privacy-request/"+id, nil, &got)
			if got.Status != "approved" {
				t.Fatalf("request is %s after its only webhook replied eligible", got.Status)
			}
		})
	}
}

// slowSecrets is an endpoint in front of the emulator where each read of
// the secret secretID takes delay more, and the first, when failFirst, is
// refused as Secrets Manager refuses a role whose permission is not in
// effect yet (an error the SDK does not retry); every other call passes
// untouched.
func slowSecrets(t *testing.T, emulator, secretID string, delay time.Duration, failFirst bool) string {
	t.Helper()
	target, err := url.Parse(emulator)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	var reads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var read struct{ SecretId string }
		if r.Header.Get("X-Amz-Target") == "secretsmanager.GetSecretValue" && json.Unmarshal(body, &read) == nil && read.SecretId == secretID {
			n := reads.Add(1)
			if failFirst && n == 1 {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"not authorized to perform secretsmanager:GetSecretValue"}`)
				return
			}
			time.Sleep(delay)
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

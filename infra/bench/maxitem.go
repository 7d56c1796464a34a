package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/pregate/pregate/infra/apiclient"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/dynamo"
)

// reRuns is how many times an admin may re-run a request's pre-approval.
const reRuns = 3

// maxItemFigure drives one request through the longest life the API
// allows and prints the largest size its item reached (item_kb_max_m50):
// m webhooks with keys and names at their limits, every submitted field at
// its limit, every call failing with a long answer (each failure stored
// with its reason), then each pre-approval re-run the API allows failing
// the same way, and a deny with the longest reason.
func maxItemFigure(ctx context.Context, rep *report, root string, m int) error {
	sys, err := local.Start(ctx, local.Options{
		Root: root, Addr: "127.0.0.1:0",
		Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	defer sys.Stop()
	api := &apiClient{apiclient.Client{Base: sys.URL + "/api/v1", HTTP: &http.Client{Timeout: 30 * time.Second}}}
	rootClient := sys.Auth.Root()
	if err := api.Login(rootClient.ID, rootClient.Secret); err != nil {
		return err
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, strings.Repeat("validator failure ", 200))
	}))
	defer failing.Close()
	if err := api.configureLongest(failing.URL, m); err != nil {
		return err
	}
	var out struct {
		Succeeded []submitted `json:"succeeded"`
	}
	body := []map[string]any{{
		"identity":    map[string]string{"email": strings.Repeat("e", 242) + "@example.com", "phone_number": "+1" + strings.Repeat("5", 14)},
		"external_id": strings.Repeat("x", 255),
		"policy_key":  "default_access_policy",
	}}
	if err := api.Anonymous().Do(http.MethodPost, "/privacy-request", body, &out); err != nil {
		return err
	}
	if len(out.Succeeded) != 1 {
		return fmt.Errorf("the longest request was not accepted")
	}
	id := out.Succeeded[0].ID
	runs := 1
	if err := api.waitStatus(ctx, id, "pending"); err != nil {
		return err
	}
	for ; runs <= reRuns; runs++ {
		var res struct {
			Succeeded []any `json:"succeeded"`
			Failed    []any `json:"failed"`
		}
		err := api.Do(http.MethodPatch, "/privacy-request/administrate/retry-pre-approval", map[string]any{"request_ids": []string{id}}, &res)
		if err != nil && (strings.Contains(err.Error(), "HTTP 404") || strings.Contains(err.Error(), "HTTP 405")) {
			break // no re-run route
		}
		if err != nil {
			return err
		}
		if len(res.Succeeded) != 1 {
			return fmt.Errorf("re-run %d of the longest request failed: %v", runs, res.Failed)
		}
		// The re-run has set awaiting_pre_approval before answering; its
		// calls fail anew and bring the request back to pending.
		if err := api.waitStatus(ctx, id, "pending"); err != nil {
			return err
		}
	}
	if err := api.Do(http.MethodPatch, "/privacy-request/administrate/deny", map[string]any{"request_ids": []string{id}, "reason": strings.Repeat("r", 1000)}, nil); err != nil {
		return err
	}
	tail := &streamTail{c: dynamodbstreams.NewFromConfig(awsenv.Emulator(aws.ToString(sys.AWS.BaseEndpoint))),
		arn: sys.Stack.Resources["RequestsTable"].Attrs["StreamArn"], iters: map[string]*string{}}
	records, err := tail.read(ctx)
	if err != nil {
		return err
	}
	largest := 0
	for _, rec := range records {
		if rec.Dynamodb != nil && str(fromStreamValue(rec.Dynamodb.Keys["id"])) == id {
			largest = max(largest, dynamo.ItemSize(fromStream(rec.Dynamodb.NewImage)))
		}
	}
	rep.note("item_kb_max_m50: M=%d webhooks (keys 100, names 200 characters), every field at its limit, %d pre-approval run(s) each failing every call, then denied with a 1,000-character reason; %d writes, the largest item %d bytes",
		m, runs, len(records), largest)
	rep.figure("item_kb_max_m50", float64(largest)/1024)
	return nil
}

// configureLongest makes m connections and webhooks with keys and names at
// their limits, every connection's secret pointing at url.
func (c *apiClient) configureLongest(url string, m int) error {
	key := func(i int) string { return fmt.Sprintf("k%02d", i) + strings.Repeat("k", 97) }
	name := func(i int) string { return fmt.Sprintf("Webhook %02d ", i) + strings.Repeat("n", 189) }
	var conns, hooks []map[string]any
	for i := range m {
		conns = append(conns, map[string]any{"key": key(i), "name": name(i), "connection_type": "https", "access": "read"})
		hooks = append(hooks, map[string]any{"key": key(i), "name": name(i), "connection_config_key": key(i)})
	}
	if err := c.Do(http.MethodPatch, "/connection", conns, nil); err != nil {
		return err
	}
	for i := range m {
		if err := c.Do(http.MethodPut, "/connection/"+key(i)+"/secret", map[string]any{"url": url + "/validate", "authorization": "Bearer bench"}, nil); err != nil {
			return err
		}
	}
	return c.Do(http.MethodPut, "/dsr/webhook/pre_approval", hooks, nil)
}

// waitStatus polls a request until it has status, for at most two minutes.
func (c *apiClient) waitStatus(ctx context.Context, id, status string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var page struct {
			Items []struct {
				Status string `json:"status"`
			} `json:"items"`
		}
		if err := c.Do(http.MethodGet, "/privacy-request?request_id="+id, nil, &page); err != nil {
			return err
		}
		if len(page.Items) == 1 && page.Items[0].Status == status {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("request %s not %s within 2 minutes", id, status)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

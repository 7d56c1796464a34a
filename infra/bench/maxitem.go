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
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/pregate/pregate/infra/apiclient"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// reRuns is how many times an admin may re-run a request's pre-approval.
const reRuns = 3

// maxItemFigure drives one request through the longest life the API
// allows and prints the largest size one of its items reached
// (item_kb_max_m50; the request's item and the items its re-runs archive):
// m webhooks with keys and names at their limits, a new set of them for
// each pre-approval run, every submitted field at its limit, every call
// failing with a long answer (each failure stored with its reason), all but
// one webhook replying eligible in every run, each re-run the API allows,
// and a deny with the longest reason.
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
	var mu sync.Mutex
	tokens := map[string]string{} // reply token by webhook-id ("<request>:<webhook>:<run>")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		tokens[r.Header.Get("webhook-id")] = r.Header.Get("reply-to-token")
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, strings.Repeat("validator failure ", 200))
	}))
	defer failing.Close()
	if err := api.configureLongest(failing.URL, m, 0); err != nil {
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
	replied := func(run int) error {
		if err := api.waitStatus(ctx, id, "pending"); err != nil {
			return err
		}
		for i := range m - 1 { // the last one never answers: the request stays undecided
			mu.Lock()
			token := tokens[gate.RunDeliveryID(id, longKey(run, i), run)]
			mu.Unlock()
			if token == "" {
				return fmt.Errorf("run %d: webhook %d was not called", run, i)
			}
			c := api.Anonymous()
			c.Token = token
			if err := c.Do(http.MethodPost, "/privacy-request/"+id+"/pre-approve/eligible", map[string]any{}, nil); err != nil {
				return fmt.Errorf("run %d: reply of webhook %d: %w", run, i, err)
			}
		}
		return nil
	}
	if err := replied(0); err != nil {
		return err
	}
	runs := 1
	for ; runs <= reRuns; runs++ {
		if err := api.configureLongest(failing.URL, m, runs); err != nil {
			return err
		}
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
		if err := replied(runs); err != nil {
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
	largest, writes := 0, 0
	for _, rec := range records {
		if rec.Dynamodb == nil {
			continue
		}
		if key := str(fromStreamValue(rec.Dynamodb.Keys["id"])); key == id || strings.HasPrefix(key, id+"#") { // its archived runs too
			writes++
			largest = max(largest, dynamo.ItemSize(fromStream(rec.Dynamodb.NewImage)))
		}
	}
	rep.note("item_kb_max_m50: M=%d webhooks (keys 100, names 200 characters), a new set for each of %d pre-approval run(s), every field at its limit, every call failing, all but one webhook replying eligible, then denied with a 1,000-character reason; %d writes, the largest item %d bytes",
		m, runs, writes, largest)
	rep.figure("item_kb_max_m50", float64(largest)/1024)
	return nil
}

// longKey is the key of webhook i of the run's set: 100 characters.
func longKey(run, i int) string { return fmt.Sprintf("k%d%02d", run, i) + strings.Repeat("k", 96) }

// configureLongest makes the run's set of m connections and webhooks, keys
// and names at their limits, every connection's secret pointing at url; the
// set replaces the configured webhooks.
func (c *apiClient) configureLongest(url string, m, run int) error {
	name := func(i int) string { return fmt.Sprintf("Webhook %d%02d ", run, i) + strings.Repeat("n", 188) }
	var conns, hooks []map[string]any
	for i := range m {
		conns = append(conns, map[string]any{"key": longKey(run, i), "name": name(i), "connection_type": "https", "access": "read"})
		hooks = append(hooks, map[string]any{"key": longKey(run, i), "name": name(i), "connection_config_key": longKey(run, i)})
	}
	if err := c.Do(http.MethodPatch, "/connection", conns, nil); err != nil {
		return err
	}
	for i := range m {
		if err := c.Do(http.MethodPut, "/connection/"+longKey(run, i)+"/secret", map[string]any{"url": url + "/validate", "authorization": "Bearer bench"}, nil); err != nil {
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

package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/awstest"
)

// logs collects the shared system's JSON logs, so tests can check that no secret reaches them.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	logs       lockedBuffer
	sharedOnce sync.Once
	shared     *local.System
	sharedErr  error
)

// silentValidator accepts every call and never replies, so requests of the
// admin and reply tests stay where those tests put them while the real
// dispatcher runs (a refused connection would be retried, then failed).
var silentValidator = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusAccepted)
}))

// validatorURL is the url every test connection's secrets point at.
var validatorURL = silentValidator.URL + "/hook"

func TestMain(m *testing.M) {
	code := m.Run()
	// After every test: no notification the shared system published names
	// a data subject (it leaves the system by email).
	if shared != nil && code == 0 {
		if err := checkNotificationsNameNoIdentity(shared); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: notifications:", err)
			code = 1
		}
	}
	silentValidator.Close()
	shared.Stop()
	awstest.Stop() // started by the stream poller's tests
	os.Exit(code)
}

// system is one local system shared by the admin tests (they run serially:
// the webhook set is global).
func system(t *testing.T) *local.System {
	t.Helper()
	sharedOnce.Do(func() {
		root, err := local.Root()
		if err != nil {
			sharedErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared, sharedErr = local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"),
			Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

type client struct {
	t     *testing.T
	sys   *local.System
	token string
	// seen, when set, collects every response, for tests that scan them.
	seen *[]seenResponse
}

// seenResponse is one response a client received.
type seenResponse struct {
	call string // method and path as sent: "PUT /connection/crm_1/secret"
	body []byte
}

func admin(t *testing.T) *client {
	t.Helper()
	return adminOf(t, system(t))
}

// adminOf is an admin client of sys holding a root token.
func adminOf(t *testing.T, sys *local.System) *client {
	t.Helper()
	resp, err := openapitest.Client(t).Post(sys.URL+"/api/v1/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id=local-admin&client_secret=local-admin-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return &client{t: t, sys: sys, token: tok.AccessToken}
}

// do sends a request; body is marshalled unless it is a string (sent raw).
func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.sys.URL+"/api/v1"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := openapitest.Client(c.t).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if c.seen != nil {
		*c.seen = append(*c.seen, seenResponse{call: method + " " + path, body: raw})
	}
	return resp.StatusCode, raw
}

// must sends a request and fails unless the status is want; it decodes the body into out (when not nil).
func (c *client) must(want int, method, path string, body, out any) {
	c.t.Helper()
	status, raw := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func detailOf(t *testing.T, raw []byte) string {
	t.Helper()
	var d struct {
		Detail any `json:"detail"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("not a detail body: %s", raw)
	}
	if s, ok := d.Detail.(string); ok {
		return s
	}
	b, _ := json.Marshal(d.Detail)
	return string(b)
}

// connection creates an https connection with secrets and returns its key.
func (c *client) connection(key string) string {
	c.t.Helper()
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": key, "name": "Conn " + key, "connection_type": "https", "access": "read"}}, nil)
	c.must(200, "PUT", "/connection/"+key+"/secret", map[string]any{"url": validatorURL, "authorization": "Bearer s3cr3t-" + key, "headers": map[string]string{"X-Api-Key": "hdr-" + key}}, nil)
	return key
}

type webhookOut struct {
	Key              string `json:"key"`
	Name             string `json:"name"`
	SigningSecret    string `json:"signing_secret"`
	ConnectionConfig *struct {
		Key     string            `json:"key"`
		Secrets map[string]string `json:"secrets"`
	} `json:"connection_config"`
}

// webhookKeys lists the configured webhooks' keys, newest first.
func (c *client) webhookKeys() []string {
	c.t.Helper()
	var page struct {
		Items []webhookOut `json:"items"`
		Total int          `json:"total"`
	}
	c.must(200, "GET", "/dsr/webhook/pre_approval?size=100", nil, &page)
	keys := []string{}
	for _, w := range page.Items {
		keys = append(keys, w.Key)
	}
	return keys
}

func unique(prefix string) string { return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()) }

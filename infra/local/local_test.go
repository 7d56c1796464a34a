package local_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/infra/stack"
)

func TestLocalSystemServesHealth(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)

	resp, err := openapitest.Client(t).Get(sys.URL + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status   string            `json:"status"`
		Versions map[string]string `json:"versions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body.Status != "ok" || body.Versions["go"] == "" {
		t.Fatalf("health: %d %+v", resp.StatusCode, body)
	}
	for path, want := range map[string]int{"/api/v1/nothing-here": 404, "/api/v1/connection": 401} {
		r, err := openapitest.Client(t).Get(sys.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, r.StatusCode, want)
		}
	}
}

// Two systems on one shared endpoint (as two test packages on LocalStack or
// a real account) provision under different names and never see each
// other's requests.
func TestSystemsOnASharedEndpointDoNotCollide(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		m, err := stack.StartMoto(ctx, root, stack.MotoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Stop)
		endpoint = m.Endpoint
	}
	var systems [2]*local.System
	for i := range systems {
		systems[i], err = local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: endpoint,
			Env: map[string]string{"REQUIRE_MANUAL_REQUEST_APPROVAL": "false"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(systems[i].Stop)
	}
	a, b := systems[0].Stack.Resources["RequestsTable"].Ref, systems[1].Stack.Resources["RequestsTable"].Ref
	if a == b {
		t.Fatalf("both systems use table %s", a)
	}
	id, _ := adminOf(t, systems[0]).submit()
	adminOf(t, systems[0]).must(200, "GET", "/privacy-request/"+id, nil, nil)
	adminOf(t, systems[1]).must(404, "GET", "/privacy-request/"+id, nil, nil)
}

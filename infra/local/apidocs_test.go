package local_test

import (
	"io"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/openapitest"
)

// The local gateway serves the OpenAPI document and its reference page (both
// answers are themselves validated against the document).
func TestLocalGatewayServesTheAPIReference(t *testing.T) {
	sys := system(t)
	for path, want := range map[string]string{"/api/v1/openapi.json": `"openapi":"3.1.0"`, "/api/v1/docs": `<div id="swagger-ui">`} {
		resp, err := openapitest.Client(t).Get(sys.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(raw), want) {
			t.Errorf("GET %s: %d, body without %q", path, resp.StatusCode, want)
		}
	}
}

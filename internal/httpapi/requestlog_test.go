package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// At INFO, as deployed, a request answered 2xx writes no line of ours (the
// HTTP API's access log has it); a refused one does, with its route and
// status.
func TestRequestLineOnlyForARefusalAtInfo(t *testing.T) {
	var out bytes.Buffer
	ok := func(context.Context, *Request) (Response, error) { return OK(nil) }
	refuse := func(context.Context, *Request) (Response, error) { return Response{}, BadRequest("no") }
	a := New(slog.New(slog.NewJSONHandler(&out, nil)), "", []Route{{Key: "GET /ok", Handle: ok}, {Key: "POST /refused", Handle: refuse}})
	for _, route := range []string{"GET /ok", "POST /refused"} {
		if _, err := a.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: route}); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"route":"POST /refused","status_code":400`) {
		t.Fatalf("lines at INFO: %q", lines)
	}
}

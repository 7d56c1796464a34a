// Package openapitest holds the API's answers to docs/openapi.yaml in tests:
// a client whose transport validates every response it receives (status code
// declared for the operation, body matching its schema, declared headers) and
// fails the test on any difference.
//
// A test adopts it with one line: client := openapitest.Client(t).
package openapitest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/pregate/pregate/docs"
)

// basePath is the document's server URL: only responses under it are the API's.
const basePath = "/api/v1/"

var (
	loadOnce sync.Once
	loaded   validator.Validator
	loadErr  error
	// mu serialises validations: the validator's caches are not documented as safe for concurrent use.
	mu sync.Mutex
)

// Validator is the validator of docs/openapi.yaml, built once per test binary.
func Validator() (validator.Validator, error) {
	loadOnce.Do(func() {
		doc, err := libopenapi.NewDocument(docs.OpenAPI)
		if err != nil {
			loadErr = fmt.Errorf("parse docs/openapi.yaml: %w", err)
			return
		}
		// Formats (date-time, uri) are asserted too: the document promises them.
		v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
		if len(errs) > 0 {
			loadErr = fmt.Errorf("build validator of docs/openapi.yaml: %w", errors.Join(errs...))
			return
		}
		loaded = v
	})
	return loaded, loadErr
}

// Check validates one exchange with the API. Requests outside /api/v1 (a fake
// validator, the emulator) are not the API's and pass. A path or method the
// document does not know must get the gateway's 404 or 405 error body.
// Check reads resp.Body and puts back an unread copy.
func Check(req *http.Request, resp *http.Response) error {
	if !strings.HasPrefix(req.URL.Path, basePath) {
		return nil
	}
	v, err := Validator()
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("read response body: %w", err)
	}
	copied := *resp
	copied.Body = io.NopCloser(bytes.NewReader(raw))

	mu.Lock()
	ok, errs := v.ValidateHttpResponse(req, &copied)
	mu.Unlock()
	if ok {
		return nil
	}
	if undocumentedRoute(errs) {
		return checkUnrouted(req, resp.StatusCode, raw)
	}
	return fmt.Errorf("%s %s -> %d %s: does not match docs/openapi.yaml:%s", req.Method, req.URL.Path, resp.StatusCode, clip(raw), describe(errs))
}

// undocumentedRoute tells whether validation failed only because the
// document has no operation for the request's path and method.
func undocumentedRoute(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType != helpers.PathValidation {
			return false
		}
	}
	return len(errs) > 0
}

// checkUnrouted holds the gateway's answer to a route it does not serve
// (unknown routes 404, wrong method 405, as {"detail": "..."}).
func checkUnrouted(req *http.Request, status int, raw []byte) error {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return fmt.Errorf("%s %s is not in docs/openapi.yaml but answered %d %s (want 404 or 405)", req.Method, req.URL.Path, status, clip(raw))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`{"detail":"`)) {
		return fmt.Errorf("%s %s -> %d: body %s is not {\"detail\": \"...\"}", req.Method, req.URL.Path, status, clip(raw))
	}
	return nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      at %s: %s", s.FieldPath, s.Reason)
		}
	}
	return b.String()
}

func clip(raw []byte) string {
	if len(raw) > 500 {
		return string(raw[:500]) + "…"
	}
	return string(raw)
}

// Transport wraps next (http.DefaultTransport when nil) so that every API
// response is checked; each mismatch is reported with t.Errorf.
func Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{t: t, next: next}
}

// Client is an HTTP client for tests whose every API response is validated.
func Client(t testing.TB) *http.Client {
	return &http.Client{Transport: Transport(t, nil)}
}

type roundTripper struct {
	t    testing.TB
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := Check(req, resp); err != nil {
		rt.t.Errorf("openapi: %v", err)
	}
	return resp, nil
}

package apiclient

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// seen is what the fake API received.
type seen struct {
	method, path, contentType, authorization, body string
}

// fakeAPI records each request and answers status with answer.
func fakeAPI(t *testing.T, status int, answer string) (*Client, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(body)})
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return &Client{Base: srv.URL + "/api/v1", HTTP: srv.Client()}, &got
}

func TestLoginSendsAFormAndKeepsTheToken(t *testing.T) {
	c, got := fakeAPI(t, http.StatusOK, `{"access_token":"tok1","token_type":"Bearer"}`)
	c.Token = "stale"
	if err := c.Login("admin", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if c.Token != "tok1" {
		t.Errorf("token = %q, want tok1", c.Token)
	}
	want := seen{"POST", "/api/v1/oauth/token", "application/x-www-form-urlencoded", "",
		"client_id=admin&client_secret=s3cret&grant_type=client_credentials"}
	if len(*got) != 1 || (*got)[0] != want {
		t.Errorf("sent %+v, want %+v", *got, want)
	}
}

func TestLoginWithoutATokenFails(t *testing.T) {
	c, _ := fakeAPI(t, http.StatusOK, `{}`)
	if err := c.Login("admin", "s3cret"); err == nil || c.Token != "" {
		t.Errorf("err = %v, token = %q; want an error and no token", err, c.Token)
	}
}

func TestDoSendsJSONWithTheBearerAndDecodes(t *testing.T) {
	c, got := fakeAPI(t, http.StatusOK, `{"id":"pr_1"}`)
	c.Token = "tok1"
	var out struct {
		ID string `json:"id"`
	}
	if err := c.Do(http.MethodPatch, "/connection", []map[string]string{{"key": "k"}}, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "pr_1" {
		t.Errorf("decoded id = %q, want pr_1", out.ID)
	}
	want := seen{"PATCH", "/api/v1/connection", "application/json", "Bearer tok1", `[{"key":"k"}]`}
	if len(*got) != 1 || (*got)[0] != want {
		t.Errorf("sent %+v, want %+v", *got, want)
	}
}

func TestAnonymousSendsNoBearer(t *testing.T) {
	c, got := fakeAPI(t, http.StatusOK, `{}`)
	c.Token = "tok1"
	if err := c.Anonymous().Do(http.MethodGet, "/privacy-request", nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || (*got)[0].authorization != "" || (*got)[0].body != "" {
		t.Errorf("sent %+v, want no Authorization and no body", *got)
	}
}

func TestDoErrorCarriesStatusAndBody(t *testing.T) {
	c, _ := fakeAPI(t, http.StatusConflict, `{"detail":"already decided"}`)
	out := map[string]any{"untouched": true}
	err := c.Do(http.MethodPost, "/privacy-request", map[string]any{}, &out)
	if err == nil {
		t.Fatal("a 409 answer gave no error")
	}
	for _, part := range []string{"POST /privacy-request", "409", `{"detail":"already decided"}`} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not carry %q", err, part)
		}
	}
	if raw, _ := json.Marshal(out); string(raw) != `{"untouched":true}` {
		t.Errorf("out = %s, want it untouched on an error", raw)
	}
}

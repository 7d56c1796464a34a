// Package apiclient is the small JSON client the load tools (infra/bench,
// infra/soak) use to speak to the gate's API as a subject and as an admin.
package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Client sends requests to Base+path; Token, once set (by Login), goes as a
// bearer token on every request.
type Client struct {
	Base  string
	HTTP  *http.Client
	Token string
}

// Anonymous is the same API without the token, as a data subject calls it.
func (c *Client) Anonymous() *Client {
	return &Client{Base: c.Base, HTTP: c.HTTP}
}

// Do sends body (a form when url.Values, else JSON; none when nil) and
// decodes a 2xx answer into out when out is not nil. Any other status is an
// error that carries the status and the answer's body, since that body is
// the API's explanation.
func (c *Client) Do(method, path string, body, out any) error {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = bytes.NewBufferString(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Login gets a token for the API client id (OAuth client credentials) and
// keeps it for the next calls.
func (c *Client) Login(id, secret string) error {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	// The grant proves who calls by the form, so it goes without a bearer token.
	if err := c.Anonymous().Do(http.MethodPost, "/oauth/token", form, &tok); err != nil {
		return fmt.Errorf("login %s: %w", id, err)
	}
	if tok.AccessToken == "" {
		return fmt.Errorf("login %s: no access_token in the answer", id)
	}
	c.Token = tok.AccessToken
	return nil
}

package localauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpointAndAuthorize(t *testing.T) {
	root := RootClient(func(string) string { return "" })
	if root.ID != "local-admin" || root.Secret != "local-admin-secret" {
		t.Fatalf("defaults: %+v", root)
	}
	s, err := New(root, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(root, time.Now)
	tests := []struct {
		name, contentType, body string
		want                    int
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=local-admin&client_secret=local-admin-secret", 200},
		{"json", "application/json", `{"grant_type":"client_credentials","client_id":"local-admin","client_secret":"local-admin-secret"}`, 200},
		{"wrong secret", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=local-admin&client_secret=nope", 401},
		{"wrong client", "application/json", `{"grant_type":"client_credentials","client_id":"x","client_secret":"local-admin-secret"}`, 401},
		{"wrong grant", "application/json", `{"grant_type":"password","client_id":"local-admin","client_secret":"local-admin-secret"}`, 400},
		{"bad json", "application/json", `{`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			w := httptest.NewRecorder()
			s.TokenHandler().ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 {
				return
			}
			var out struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out.TokenType != "Bearer" || out.ExpiresIn != 3600 {
				t.Fatalf("response %+v", out)
			}
			claims, err := s.Authorize(context.Background(), out.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if claims["scope"] != strings.Join(Scopes, " ") || claims["client_id"] != "local-admin" || len(strings.Fields(claims["scope"])) != 11 {
				t.Fatalf("claims %v", claims)
			}
			if _, err := other.Authorize(context.Background(), out.AccessToken); err == nil {
				t.Fatal("token accepted by a server with another key")
			}
		})
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	s, _ := New(Client{ID: "a", Secret: "b"}, time.Now)
	expired, _ := s.Mint("a", Scopes, -time.Minute)
	good, _ := s.Mint("a", Scopes, time.Hour)
	for name, tok := range map[string]string{
		"garbage": "not-a-jwt", "expired": expired, "empty": "", "huge": strings.Repeat("a", 9000),
		"tampered": good[:len(good)-4] + "AAAA",
	} {
		if _, err := s.Authorize(context.Background(), tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package localauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testVerifier = "a-verifier-of-at-least-forty-three-characters-long-0123456789"

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeQuery(scope string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {ConsoleClientID}, "redirect_uri": {"http://127.0.0.1:3000/admin/"},
		"state": {"st"}, "scope": {scope}, "code_challenge": {challengeOf(testVerifier)}, "code_challenge_method": {"S256"},
	}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	r.Host = "127.0.0.1:3000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// login posts the form and returns the redirect's code and the session cookie.
func signIn(t *testing.T, s *Server, q url.Values, user, password string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	form := url.Values{"username": {user}, "password": {password}}
	for k, v := range q {
		form[k] = v
	}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth/authorize", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(s.AuthorizeHandler(), r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if loc == nil {
		return w, ""
	}
	return w, loc.Query().Get("code")
}

func redeemCode(s *Server, code, verifier string) (*httptest.ResponseRecorder, map[string]any) {
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {ConsoleClientID}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:3000/admin/"}, "code_verifier": {verifier}}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(s.TokenHandler(), r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w, body
}

func TestLoginWithPKCE(t *testing.T) {
	s, _ := New(RootClient(func(string) string { return "" }), time.Now)
	s.WithUser(LocalUser(func(k string) string { return map[string]string{"LOCAL_ADMIN_PASSWORD": "pw"}[k] }))

	page := serve(s.AuthorizeHandler(), httptest.NewRequest(http.MethodGet, "/api/v1/oauth/authorize?"+authorizeQuery("").Encode(), nil))
	if page.Code != 200 || !strings.Contains(page.Body.String(), `<label for="password">`) || page.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("login page: %d %s", page.Code, page.Body.String())
	}
	if w, code := signIn(t, s, authorizeQuery(""), "admin", "wrong"); w.Code != 401 || code != "" || !strings.Contains(w.Body.String(), "Incorrect user name or password.") {
		t.Fatalf("wrong password: %d %q", w.Code, code)
	}

	w, code := signIn(t, s, authorizeQuery("pregate/privacy-request:read webhook:read"), "admin", "pw")
	if w.Code != 302 || code == "" || !strings.Contains(w.Header().Get("Location"), "state=st") {
		t.Fatalf("login: %d %v", w.Code, w.Header())
	}
	if got, _ := redeemCode(s, code, "another-verifier-of-at-least-forty-three-characters-long-xx"); got.Code != 400 {
		t.Fatalf("wrong verifier: %d", got.Code)
	}
	// A code is single use, even after a failed attempt.
	if got, _ := redeemCode(s, code, testVerifier); got.Code != 400 {
		t.Fatalf("reused code: %d", got.Code)
	}

	_, code = signIn(t, s, authorizeQuery("pregate/privacy-request:read webhook:read"), "admin", "pw")
	got, body := redeemCode(s, code, testVerifier)
	if got.Code != 200 || body["scope"] != "privacy-request:read webhook:read" {
		t.Fatalf("token: %d %v", got.Code, body)
	}
	claims, err := s.Authorize(context.Background(), body["access_token"].(string))
	if err != nil || claims["scope"] != "privacy-request:read webhook:read" || claims["client_id"] != ConsoleClientID || claims["sub"] != "admin" {
		t.Fatalf("claims %v %v", claims, err)
	}

	// The session cookie signs in again without the form, until sign-out.
	cookie := w.Result().Cookies()[0]
	r := httptest.NewRequest(http.MethodGet, "/api/v1/oauth/authorize?"+authorizeQuery("").Encode(), nil)
	r.AddCookie(cookie)
	if again := serve(s.AuthorizeHandler(), r); again.Code != 302 || !strings.Contains(again.Header().Get("Location"), "code=") {
		t.Fatalf("with the session: %d", again.Code)
	}
	out := serve(s.LogoutHandler(), httptest.NewRequest(http.MethodGet, "/api/v1/oauth/logout?client_id=pregate-console&logout_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fadmin%2F", nil))
	if out.Code != 302 || out.Result().Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", out.Code, out.Header())
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	s, _ := New(RootClient(func(string) string { return "" }), time.Now)
	for name, change := range map[string]func(url.Values){
		"other client":         func(q url.Values) { q.Set("client_id", "x") },
		"redirect elsewhere":   func(q url.Values) { q.Set("redirect_uri", "https://evil.example/admin/") },
		"redirect other path":  func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:3000/api/") },
		"redirect with query":  func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:3000/admin/?x=1") },
		"redirect not http(s)": func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") },
	} {
		q := authorizeQuery("")
		change(q)
		w := serve(s.AuthorizeHandler(), httptest.NewRequest(http.MethodGet, "/api/v1/oauth/authorize?"+q.Encode(), nil))
		if w.Code != 400 || w.Header().Get("Location") != "" {
			t.Errorf("%s: %d %v (never redirected)", name, w.Code, w.Header().Get("Location"))
		}
	}
	for name, tc := range map[string]struct {
		change func(url.Values)
		err    string
	}{
		"plain challenge": {func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		"no challenge":    {func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		"token flow":      {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		"unknown scope":   {func(q url.Values) { q.Set("scope", "pregate/everything") }, "invalid_scope"},
	} {
		q := authorizeQuery("")
		tc.change(q)
		w := serve(s.AuthorizeHandler(), httptest.NewRequest(http.MethodGet, "/api/v1/oauth/authorize?"+q.Encode(), nil))
		if w.Code != 302 || !strings.Contains(w.Header().Get("Location"), "error="+tc.err) {
			t.Errorf("%s: %d %v", name, w.Code, w.Header().Get("Location"))
		}
	}
}

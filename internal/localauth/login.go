package localauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The console's login, as Cognito's managed login does it in AWS: the OAuth2
// authorization-code grant with PKCE (RFC 7636, S256 only) for one public
// client, one local admin user, and a session cookie so that an expired
// token is renewed without typing the password again (until sign-out).

// ConsoleClientID is the local console's public client (no secret).
const ConsoleClientID = "pregate-console"

// ConsoleRedirectPath is the only redirect URI path the local issuer accepts,
// on the origin the request came to.
const ConsoleRedirectPath = "/admin/"

const (
	codeTTL     = time.Minute
	sessionTTL  = 8 * time.Hour
	sessionName = "pregate_local_session"
)

// User is the local admin who logs in to the console.
type User struct {
	Name     string
	Password string
}

// LocalUser reads LOCAL_ADMIN_USER / LOCAL_ADMIN_PASSWORD, with the local defaults.
func LocalUser(getenv func(string) string) User {
	return User{Name: envOr(getenv, "LOCAL_ADMIN_USER", "admin"), Password: envOr(getenv, "LOCAL_ADMIN_PASSWORD", "local-admin-password")}
}

// authCode is an issued, not yet redeemed authorization code.
type authCode struct {
	redirectURI string
	challenge   string
	scopes      []string
	user        string
	expires     time.Time
}

// login holds the console login's state.
type login struct {
	mu    sync.Mutex
	user  User
	codes map[string]authCode
}

// WithUser sets the local admin user (LocalUser by default).
func (s *Server) WithUser(u User) *Server {
	s.login.mu.Lock()
	defer s.login.mu.Unlock()
	s.login.user = u
	return s
}

// User is the local admin user (for the start-up banner).
func (s *Server) User() User {
	s.login.mu.Lock()
	defer s.login.mu.Unlock()
	return s.login.user
}

// authorizeRequest is the query of GET /oauth/authorize (and the hidden
// fields of the login form).
type authorizeRequest struct {
	ResponseType, ClientID, RedirectURI, State, Scope, Challenge, ChallengeMethod string
	scopes                                                                        []string
}

func readAuthorize(v url.Values) authorizeRequest {
	return authorizeRequest{
		ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		State: v.Get("state"), Scope: v.Get("scope"), Challenge: v.Get("code_challenge"), ChallengeMethod: v.Get("code_challenge_method"),
	}
}

// check validates the request. A bad client or redirect URI is shown on
// the page (never redirected to); anything else goes back to the client as
// an OAuth2 error on its redirect URI.
func (a *authorizeRequest) check(r *http.Request) (page string, oauthErr string) {
	if a.ClientID != ConsoleClientID {
		return "Unknown client_id.", ""
	}
	if !consoleRedirect(r, a.RedirectURI) {
		return "redirect_uri must be this server's " + ConsoleRedirectPath + " page.", ""
	}
	if a.ResponseType != "code" {
		return "", "unsupported_response_type"
	}
	if a.ChallengeMethod != "S256" || len(a.Challenge) < 43 || len(a.Challenge) > 128 {
		return "", "invalid_request"
	}
	a.scopes = nil
	for _, sc := range strings.Fields(a.Scope) {
		// Cognito's names carry the resource server ("pregate/webhook:read").
		if i := strings.LastIndex(sc, "/"); i >= 0 {
			sc = sc[i+1:]
		}
		if !contains(Scopes, sc) {
			return "", "invalid_scope"
		}
		if !contains(a.scopes, sc) {
			a.scopes = append(a.scopes, sc)
		}
	}
	if len(a.scopes) == 0 {
		a.scopes = Scopes
	}
	return "", ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// consoleRedirect accepts only http(s)://<the host asked>/admin/.
func consoleRedirect(r *http.Request, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return u.Host == r.Host && u.Path == ConsoleRedirectPath && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// AuthorizeHandler serves GET and POST /api/v1/oauth/authorize: the login
// page, and the login form's submission.
func (s *Server) AuthorizeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.page(w, http.StatusBadRequest, loginPage{Problem: "Malformed form body."})
				return
			}
		}
		values := r.URL.Query()
		if r.Method == http.MethodPost {
			values = r.PostForm
		}
		req := readAuthorize(values)
		if problem, oauthErr := req.check(r); problem != "" {
			s.page(w, http.StatusBadRequest, loginPage{Problem: problem})
			return
		} else if oauthErr != "" {
			redirectBack(w, req, url.Values{"error": {oauthErr}})
			return
		}
		user, signedIn := s.session(r)
		if r.Method == http.MethodPost {
			name, password := r.PostForm.Get("username"), r.PostForm.Get("password")
			if !s.validUser(name, password) {
				s.page(w, http.StatusUnauthorized, loginPage{Req: req, Username: name, Error: "Incorrect user name or password."})
				return
			}
			user, signedIn = name, true
			s.setSession(w, user)
		}
		if !signedIn {
			s.page(w, http.StatusOK, loginPage{Req: req})
			return
		}
		code := s.issueCode(req, user)
		redirectBack(w, req, url.Values{"code": {code}})
	})
}

func redirectBack(w http.ResponseWriter, req authorizeRequest, v url.Values) {
	if req.State != "" {
		v.Set("state", req.State)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", req.RedirectURI+"?"+v.Encode())
	w.WriteHeader(http.StatusFound)
}

func (s *Server) validUser(name, password string) bool {
	u := s.User()
	nameOK := subtle.ConstantTimeCompare([]byte(name), []byte(u.Name)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) == 1
	return nameOK && passOK
}

func (s *Server) issueCode(req authorizeRequest, user string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	s.login.mu.Lock()
	defer s.login.mu.Unlock()
	for c, ac := range s.login.codes { // codes live a minute: drop the stale ones
		if now.After(ac.expires) {
			delete(s.login.codes, c)
		}
	}
	s.login.codes[code] = authCode{redirectURI: req.RedirectURI, challenge: req.Challenge, scopes: req.scopes, user: user, expires: now.Add(codeTTL)}
	return code
}

// redeem is the authorization_code grant: one use, within a minute, same
// client and redirect URI, and the verifier whose S256 is the challenge.
func (s *Server) redeem(req TokenRequest) (authCode, string) {
	s.login.mu.Lock()
	ac, ok := s.login.codes[req.Code]
	delete(s.login.codes, req.Code)
	s.login.mu.Unlock()
	switch {
	case req.ClientID != ConsoleClientID:
		return authCode{}, "invalid_client"
	case !ok || s.now().After(ac.expires) || req.RedirectURI != ac.redirectURI:
		return authCode{}, "invalid_grant"
	}
	sum := sha256.Sum256([]byte(req.CodeVerifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
		return authCode{}, "invalid_grant"
	}
	return ac, ""
}

// The session cookie: "<user>|<unix expiry>|<HMAC>", HttpOnly, for the oauth paths only.
func (s *Server) setSession(w http.ResponseWriter, user string) {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	payload := base64.RawURLEncoding.EncodeToString([]byte(user)) + "|" + exp
	http.SetCookie(w, &http.Cookie{Name: sessionName, Value: payload + "|" + s.mac(payload), Path: "/api/v1/oauth/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
}

func (s *Server) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionName)
	if err != nil {
		return "", false
	}
	i := strings.LastIndex(c.Value, "|")
	if i < 0 || !hmac.Equal([]byte(c.Value[i+1:]), []byte(s.mac(c.Value[:i]))) {
		return "", false
	}
	userB64, exp, _ := strings.Cut(c.Value[:i], "|")
	user, err := base64.RawURLEncoding.DecodeString(userB64)
	unix, err2 := strconv.ParseInt(exp, 10, 64)
	if err != nil || err2 != nil || s.now().Unix() > unix || string(user) != s.User().Name {
		return "", false
	}
	return string(user), true
}

func (s *Server) mac(payload string) string {
	m := hmac.New(sha256.New, s.signingKey())
	m.Write([]byte("session|" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LogoutHandler serves GET /api/v1/oauth/logout?client_id=…&logout_uri=…
// as Cognito's /logout does: it ends the session and returns to the console.
func (s *Server) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != ConsoleClientID || !consoleRedirect(r, q.Get("logout_uri")) {
			s.page(w, http.StatusBadRequest, loginPage{Problem: "Unknown client_id or logout_uri."})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionName, Value: "", Path: "/api/v1/oauth/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", q.Get("logout_uri"))
		w.WriteHeader(http.StatusFound)
	})
}

type loginPage struct {
	Req      authorizeRequest
	Username string
	Error    string
	Problem  string // the request itself is wrong: no form
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · pregate (local)</title><style>{{.CSS}}</style></head>
<body><main>
<h1>pregate admin</h1>
{{if .Page.Problem}}<p class="error" role="alert">{{.Page.Problem}}</p>
{{else}}<p>Local sign-in. The user and password were printed when <code>make run</code> started.</p>
<form method="post" action="/api/v1/oauth/authorize">
{{with .Page.Req}}<input type="hidden" name="response_type" value="{{.ResponseType}}">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="code_challenge" value="{{.Challenge}}">
<input type="hidden" name="code_challenge_method" value="{{.ChallengeMethod}}">{{end}}
{{if .Page.Error}}<p class="error" role="alert" id="login-error">{{.Page.Error}}</p>{{end}}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required value="{{.Page.Username}}" {{if not .Page.Username}}autofocus{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required {{if .Page.Username}}autofocus{{end}}>
<button type="submit">Sign in</button>
</form>{{end}}
</main></body></html>
`))

const loginCSS = `body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:22rem;margin:10vh auto;padding:2rem;background:#fff;border:1px solid #d5d9e0;border-radius:8px}
h1{font-size:1.4rem;margin:0 0 .5rem}label{display:block;margin-top:1rem;font-weight:600}
input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;border:1px solid #8a93a3;border-radius:4px}
button{margin-top:1.5rem;width:100%;padding:.6rem;font:inherit;font-weight:600;color:#fff;background:#2451b7;border:0;border-radius:4px;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #f0b400;outline-offset:1px}
.error{color:#a11;background:#fdecec;padding:.5rem;border-radius:4px}code{font-size:.9em}`

// loginCSP allows the page's one style block (by hash), no script at all.
var loginCSP = func() string {
	sum := sha256.Sum256([]byte(loginCSS))
	return fmt.Sprintf("default-src 'none'; style-src 'sha256-%s'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		base64.StdEncoding.EncodeToString(sum[:]))
}()

func (s *Server) page(w http.ResponseWriter, status int, p loginPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", loginCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, struct {
		CSS  template.CSS
		Page loginPage
	}{template.CSS(loginCSS), p})
}

// Package localauth is the local stand-in for the Cognito user pool of
// the admin API: a client-credentials token endpoint for one root client, the
// console's login (authorization code + PKCE, login.go) and the matching JWT
// authorizer the local gateway runs. Tokens are HS256 JWTs
// signed with a key generated when the local system starts.
package localauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Scopes are every admin scope; the root client holds them all.
var Scopes = []string{
	"connection:read", "connection:create_or_update", "connection:delete",
	"webhook:read", "webhook:create_or_update", "webhook:delete",
	"privacy-request:read", "privacy-request:review",
	"policy:read", "policy:create_or_update", "audit:read",
}

// Issuer is the "iss" of local tokens.
const Issuer = "pregate-local"

// TokenTTL is the lifetime of an access token.
const TokenTTL = time.Hour

// Client is a client-credentials client.
type Client struct {
	ID     string
	Secret string
}

// RootClient reads OAUTH_ROOT_CLIENT_ID / OAUTH_ROOT_CLIENT_SECRET, with the local defaults.
func RootClient(getenv func(string) string) Client {
	return Client{ID: envOr(getenv, "OAUTH_ROOT_CLIENT_ID", "local-admin"), Secret: envOr(getenv, "OAUTH_ROOT_CLIENT_SECRET", "local-admin-secret")}
}

// envOr is getenv(key), or def when that is empty.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// Server issues and verifies local tokens.
type Server struct {
	root  Client
	keyMu sync.RWMutex
	key   []byte
	now   func() time.Time
	login login
}

// New makes a server with a fresh random signing key.
func New(root Client, now func() time.Time) (*Server, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("local token key: %w", err)
	}
	s := &Server{root: root, key: key, now: now}
	s.login.user, s.login.codes = LocalUser(func(string) string { return "" }), map[string]authCode{}
	return s, nil
}

func (s *Server) signingKey() []byte {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	return s.key
}

// RotateKey replaces the signing key: every token and sign-in session
// issued so far stops working, as if they had all expired.
func (s *Server) RotateKey() error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("local token key: %w", err)
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	s.key = key
	return nil
}

// Root is the root client (for the start-up banner).
func (s *Server) Root() Client { return s.root }

// Mint signs a token for clientID with the given scopes, valid for ttl from now.
func (s *Server) Mint(clientID string, scopes []string, ttl time.Duration) (string, error) {
	return s.mint(clientID, "", scopes, ttl)
}

// mint signs a token; username is set for a user's token (the console's), as Cognito does.
func (s *Server) mint(clientID, username string, scopes []string, ttl time.Duration) (string, error) {
	key, now := s.signingKey(), s.now()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	subject := clientID
	if username != "" {
		subject = username
	}
	claims := jwt.Claims{
		Issuer: Issuer, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
	}
	extra := scopeClaims{Scope: strings.Join(scopes, " "), ClientID: clientID, Username: username}
	return jwt.Signed(sig).Claims(claims).Claims(extra).Serialize()
}

// scopeClaims are the claims beyond the registered ones, as Cognito puts them.
type scopeClaims struct {
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	Username string `json:"username,omitempty"`
}

// ErrInvalidToken is any token that fails verification.
var ErrInvalidToken = errors.New("invalid token")

// Authorize verifies signature, issuer and expiry and returns the claims the
// gateway puts in the request context.
func (s *Server) Authorize(_ context.Context, token string) (map[string]string, error) {
	if len(token) > 8192 {
		return nil, ErrInvalidToken
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, ErrInvalidToken
	}
	var std jwt.Claims
	var extra scopeClaims
	if err := parsed.Claims(s.signingKey(), &std, &extra); err != nil {
		return nil, ErrInvalidToken
	}
	if std.Expiry == nil {
		return nil, ErrInvalidToken
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: Issuer, Time: s.now()}, 0); err != nil {
		return nil, ErrInvalidToken
	}
	claims := map[string]string{"iss": std.Issuer, "sub": std.Subject, "scope": extra.Scope, "client_id": extra.ClientID}
	if extra.Username != "" {
		claims["username"] = extra.Username
	}
	return claims, nil
}

// TokenHandler serves POST /api/v1/oauth/token (form or JSON): the
// client_credentials grant of the root client, and the authorization_code
// grant of the console (PKCE).
func (s *Server) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readTokenRequest(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": err.Error()})
			return
		}
		if req.GrantType == "authorization_code" {
			s.codeGrant(w, req)
			return
		}
		if req.GrantType != "client_credentials" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Unsupported grant_type"})
			return
		}
		if !s.validClient(req.ClientID, req.ClientSecret) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid client credentials"})
			return
		}
		token, err := s.Mint(req.ClientID, Scopes, TokenTTL)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "Internal Server Error"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds())})
	})
}

func (s *Server) codeGrant(w http.ResponseWriter, req TokenRequest) {
	ac, oauthErr := s.redeem(req)
	if oauthErr != "" {
		status := http.StatusBadRequest
		if oauthErr == "invalid_client" {
			status = http.StatusUnauthorized
		}
		writeJSON(w, status, map[string]string{"error": oauthErr, "detail": "The authorization code is invalid, expired or already used, or the code_verifier does not match."})
		return
	}
	token, err := s.mint(ConsoleClientID, ac.user, ac.scopes, TokenTTL)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "Internal Server Error"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds()), "scope": strings.Join(ac.scopes, " ")})
}

func (s *Server) validClient(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.root.ID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.root.Secret)) == 1
	return idOK && secretOK
}

// TokenRequest is the client-credentials grant.
type TokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// The authorization_code grant's.
	Code         string `json:"code"`
	RedirectURI  string `json:"redirect_uri"`
	CodeVerifier string `json:"code_verifier"`
}

func readTokenRequest(r *http.Request) (TokenRequest, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var req TokenRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return TokenRequest{}, errors.New("Malformed JSON")
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return TokenRequest{}, errors.New("Malformed form body")
	}
	f := r.PostForm
	req := TokenRequest{GrantType: f.Get("grant_type"), ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"),
		Code: f.Get("code"), RedirectURI: f.Get("redirect_uri"), CodeVerifier: f.Get("code_verifier")}
	if user, pass, ok := r.BasicAuth(); ok && req.ClientID == "" {
		req.ClientID, req.ClientSecret = user, pass
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Login with OAuth2 authorization code + PKCE (S256), a public client.
// The access token lives in this module's memory only, never in storage:
// a reload signs in again (the issuer's own session makes that quick).
// sessionStorage holds only what must survive the trip to the login page:
// the PKCE verifier, the state, and where the user was (route and draft).

const cfgEl = document.querySelector('meta[name="pregate-config"]');
export const config = JSON.parse(cfgEl ? cfgEl.content : '{}');

const PENDING = 'pregate.login';   // {state, verifier}
const RESUME = 'pregate.resume';   // {hash, draft}
const SIGNED_OUT = 'pregate.signedOut';

let token = null; // {access, exp (ms), scopes: Set, user}

export const enabled = () => Boolean(config.authorize_url && config.token_url && config.client_id);
export const signedIn = () => token !== null && token.exp > Date.now();
export const user = () => (token ? token.user : '');
export const can = (scope) => token !== null && token.scopes.has(scope);
export const expiresSoon = () => token === null || token.exp - Date.now() < 10_000;
export const wasSignedOut = () => sessionStorage.getItem(SIGNED_OUT) === '1';

const redirectURI = () => `${location.origin}/admin/`;

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

// login goes to the issuer's login page; resume (route and draft) comes
// back after it.
export async function login(resume) {
  const verifier = random(48);
  const state = random(24);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({state, verifier}));
  sessionStorage.setItem(RESUME, JSON.stringify(resume || {hash: location.hash}));
  sessionStorage.removeItem(SIGNED_OUT);
  const q = new URLSearchParams({
    response_type: 'code', client_id: config.client_id, redirect_uri: redirectURI(),
    scope: (config.scopes || []).join(' '), state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  location.assign(`${config.authorize_url}?${q}`);
  // Nothing after this runs for long: the page is going away.
  return new Promise(() => {});
}

// finishLogin handles the issuer's redirect back (?code=…&state=…): it
// trades the code for a token and returns where the user was, or throws.
export async function finishLogin() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  const resume = JSON.parse(sessionStorage.getItem(RESUME) || 'null') || {hash: ''};
  sessionStorage.removeItem(PENDING);
  sessionStorage.removeItem(RESUME);
  history.replaceState(null, '', `/admin/${resume.hash || ''}`);
  if (params.has('error')) throw new Error(`Sign-in failed: ${params.get('error_description') || params.get('error')}`);
  if (!pending || params.get('state') !== pending.state) throw new Error('Sign-in failed: this sign-in was not started here (state mismatch). Sign in again.');
  const res = await fetch(config.token_url, {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: config.client_id, code: params.get('code') || '',
      redirect_uri: redirectURI(), code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) {
    throw new Error(`Sign-in failed: ${body.detail || body.error_description || body.error || `HTTP ${res.status}`}`);
  }
  setToken(body.access_token, body.expires_in);
  return resume;
}

function setToken(access, expiresIn) {
  let claims = {};
  try {
    claims = JSON.parse(atob(access.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch { /* an opaque token: no scopes known */ }
  // Cognito names scopes "<resource server>/<scope>"; the API strips it too.
  const scopes = new Set(String(claims.scope || '').split(' ').filter(Boolean).map((s) => s.slice(s.lastIndexOf('/') + 1)));
  const exp = claims.exp ? claims.exp * 1000 : Date.now() + (expiresIn || 3600) * 1000;
  token = {access, exp, scopes, user: claims.username || claims['cognito:username'] || claims.sub || ''};
}

export const accessToken = () => (token ? token.access : '');

// signOut forgets the token and ends the issuer's session too.
export function signOut() {
  token = null;
  sessionStorage.setItem(SIGNED_OUT, '1');
  if (config.logout_url) {
    const q = new URLSearchParams({client_id: config.client_id, logout_uri: redirectURI()});
    location.assign(`${config.logout_url}?${q}`);
  } else {
    location.assign('/admin/');
  }
}

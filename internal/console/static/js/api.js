// The console is a client of the public API under /api/v1: every call
// carries the access token; an expired or refused token sends the user to
// sign in again, keeping the route and the open form (draft) to come back to.
import * as auth from './auth.js';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// A call that stopped because the user is being sent to sign in.
export class Relogin extends Error {
  constructor() {
    super('Your session has expired: signing in again…');
    this.relogin = true;
  }
}

let draftOf = () => null;

// keepDraft names what to save if the token runs out (a page's open form).
export function keepDraft(fn) {
  draftOf = fn || (() => null);
}

export async function relogin() {
  await auth.login({hash: location.hash, draft: draftOf()});
  throw new Relogin();
}

// message is the API's error text as it is: a detail string, or each field error of a 422.
export function message(status, body) {
  const d = body && body.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) {
    return d.map((e) => {
      const loc = Array.isArray(e.loc) ? e.loc.filter((x) => x !== 'body').join('.') : '';
      return loc ? `${loc}: ${e.msg}` : e.msg;
    }).join('; ');
  }
  return `HTTP ${status}`;
}

// send makes one call and answers the response and its body as text; a
// refused call throws an ApiError with the API's own message.
async function send(method, path, body) {
  if (auth.expiresSoon()) await relogin();
  const headers = {Authorization: `Bearer ${auth.accessToken()}`};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new ApiError(0, `The API could not be reached (${e.message}).`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  // 401, or 403 without a scope named: the token itself is no good (expired).
  if (res.status === 401 || (res.status === 403 && json && json.detail === 'Not Authorized for this action')) await relogin();
  if (!res.ok) throw new ApiError(res.status, message(res.status, json), json);
  return {res, text, json};
}

export async function api(method, path, body) {
  return (await send(method, path, body)).json;
}

// apiText is a GET of a route that answers text (CSV): {text, headers}.
export async function apiText(path) {
  const {res, text} = await send('GET', path);
  return {text, headers: res.headers};
}

// bulkResult turns a {succeeded, failed} answer into an error when any item failed.
export function bulkFailures(result) {
  const failed = (result && result.failed) || [];
  if (failed.length === 0) return null;
  return new ApiError(200, failed.map((f) => f.message).join('; '), result);
}

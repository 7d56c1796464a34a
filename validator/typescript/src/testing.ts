/**
 * Test a validator without a gate: calls signed exactly as the gate signs them, and a fake gate that captures the
 * replies.
 *
 *     const gate = new FakeGate();
 *     const call = gate.call(SECRET, "pri_1", { email: "ada@example.com" }); // headers and body as the gate sends them
 *     await handler(new Request("http://validator.test/validate", { method: "POST", headers: call.headers, body: call.body }));
 *     // gate.replies: [{ privacyRequestId: "pri_1", decision: "eligible" }]
 *
 * Give your handler gate.replier(): the replies then reach the fake gate, which answers like the real one (200;
 * 403 for a token it did not issue; the statuses you give it, in turn).
 */
import { createHmac } from "node:crypto";

import { Replier, ReplyTo } from "./reply.js";

export const DEFAULT_BASE_URL = "http://gate.test/api/v1";

const POLICY_NAMES: Record<string, string> = {
  default_access_policy: "Default Access Policy",
  default_erasure_policy: "Default Erasure Policy",
  default_consent_policy: "Default Consent Policy",
  default_update_policy: "Default Update Policy",
};

/** A time as the gate writes it: UTC, microseconds, Z. */
export function formatTime(t: Date): string {
  return t.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** JSON encoded as the gate encodes it (compact, UTF-8, Go's escapes of < > & U+2028 U+2029). */
export function gateJSON(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export interface CallFields {
  email?: string | null;
  phoneNumber?: string | null;
  policyAction?: string;
  policyKey?: string;
  status?: string;
  externalId?: string | null;
  /** RFC 3339 times, as the gate writes them; now by default. */
  requestedAt?: string;
  identityVerifiedAt?: string | null;
  timestamp?: string;
}

/** The body of a pre-approval call, byte for byte as the gate builds it. */
export function callBody(privacyRequestId: string, f: CallFields = {}): string {
  const action = f.policyAction ?? "access";
  const key = f.policyKey ?? `default_${action}_policy`;
  const status = f.status ?? "awaiting_pre_approval";
  const now = formatTime(new Date());
  return gateJSON({
    privacy_request_id: privacyRequestId,
    privacy_request_status: status,
    direction: "two_way",
    callback_type: "pre_approval",
    identity: { email: f.email ?? null, phone_number: f.phoneNumber ?? null },
    policy_action: action,
    privacy_request: {
      id: privacyRequestId,
      status,
      external_id: f.externalId ?? null,
      requested_at: f.requestedAt ?? now,
      identity_verified_at: f.identityVerifiedAt ?? null,
      policy: { key, name: POLICY_NAMES[key] ?? key, rules: [{ action_type: action }] },
    },
    timestamp: f.timestamp ?? now,
  });
}

/**
 * The webhook-signature entry of one secret: "v1," + base64(HMAC-SHA256(key, id.timestamp.body)), computed with
 * node:crypto, apart from the verifying code.
 */
export function sign(secret: string, webhookId: string, timestamp: number | string, body: string): string {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  return "v1," + createHmac("sha256", key).update(`${webhookId}.${timestamp}.`).update(body, "utf8").digest("base64");
}

/** A call as the gate sends it: POST body with headers to the validator. */
export interface SignedCall {
  headers: Record<string, string>;
  body: string;
  replyTo: ReplyTo;
}

export interface SignOptions {
  privacyRequestId: string;
  webhookKey?: string;
  token?: string;
  baseUrl?: string;
  /** Unix seconds; now by default. */
  sentAt?: number;
  /** The connection's own headers (Authorization...). */
  headers?: Record<string, string>;
}

/**
 * Signs body as the gate does: one v1 signature per secret (the new and the previous one after a rotation), with
 * the gate's reply-to headers.
 */
export function signedCall(secrets: string | string[], body: string, o: SignOptions): SignedCall {
  const ts = String(o.sentAt ?? Math.floor(Date.now() / 1000));
  const webhookId = `${o.privacyRequestId}:${o.webhookKey ?? "test"}`;
  const eligible = `/privacy-request/${o.privacyRequestId}/pre-approve/eligible`;
  const notEligible = `/privacy-request/${o.privacyRequestId}/pre-approve/not-eligible`;
  const token = o.token ?? "test-reply-token";
  const baseUrl = o.baseUrl ?? DEFAULT_BASE_URL;
  const keys = typeof secrets === "string" ? [secrets] : secrets;
  return {
    headers: {
      ...o.headers,
      "content-type": "application/json",
      "reply-to-eligible": eligible,
      "reply-to-not-eligible": notEligible,
      "reply-to-approve": eligible,
      "reply-to-deny": notEligible,
      "reply-to-token": token,
      "reply-to-base-url": baseUrl,
      "webhook-id": webhookId,
      "webhook-timestamp": ts,
      "webhook-signature": keys.map((s) => sign(s, webhookId, ts, body)).join(" "),
    },
    body,
    replyTo: new ReplyTo(baseUrl, eligible, notEligible, token),
  };
}

/** One reply the fake gate accepted. */
export interface CapturedReply {
  privacyRequestId: string;
  decision: "eligible" | "not_eligible";
}

/**
 * The gate's reply routes, in memory. statuses are answered in turn (null: the connection fails), then 200.
 */
export class FakeGate {
  readonly replies: CapturedReply[] = [];
  attempts = 0;
  readonly #tokens = new Map<string, string>();
  readonly #statuses: (number | null)[];

  constructor(
    readonly baseUrl: string = DEFAULT_BASE_URL,
    statuses: (number | null)[] = [],
  ) {
    this.#statuses = [...statuses];
  }

  /** A signed call for a new request. */
  call(secrets: string | string[], privacyRequestId = "pri_test", fields: CallFields & { webhookKey?: string; sentAt?: number } = {}): SignedCall {
    const webhookKey = fields.webhookKey ?? "test";
    const token = `reply-token-${privacyRequestId}-${webhookKey}`;
    this.#tokens.set(token, privacyRequestId);
    const o: SignOptions = { privacyRequestId, webhookKey, token, baseUrl: this.baseUrl };
    if (fields.sentAt !== undefined) o.sentAt = fields.sentAt;
    return signedCall(secrets, callBody(privacyRequestId, fields), o);
  }

  /** A fetch that reaches this gate only. */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    this.attempts++;
    const status = this.#statuses.length > 0 ? this.#statuses.shift() : 200;
    if (status === null) throw new TypeError("fetch failed (FakeGate: connection refused)");
    const path = new URL(request.url).pathname.slice(new URL(this.baseUrl).pathname.length);
    const m = /^\/privacy-request\/([^/]+)\/pre-approve\/(eligible|not-eligible)$/.exec(path);
    const json = (s: number, detail: string | null): Response =>
      new Response(JSON.stringify(detail === null ? null : { detail }), { status: s, headers: { "content-type": "application/json" } });
    if (!m || request.method !== "POST") return json(404, "Not Found");
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    if (this.#tokens.get(token) !== m[1]) return json(403, "Not Authorized for this action");
    if (status !== undefined && status >= 300) return json(status, `status ${status} from FakeGate`);
    const reply: CapturedReply = { privacyRequestId: m[1] ?? "", decision: m[2] === "eligible" ? "eligible" : "not_eligible" };
    if (!this.replies.some((r) => r.privacyRequestId === reply.privacyRequestId && r.decision === reply.decision)) {
      this.replies.push(reply);
    }
    return json(status ?? 200, null);
  };

  /** A Replier that reaches this gate, with waits of a millisecond. */
  replier(): Replier {
    return new Replier({ fetch: this.fetch, baseDelayMs: 1, maxDelayMs: 1 });
  }
}

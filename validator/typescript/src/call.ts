// Checking and parsing the gate's pre-approval call.
import { Webhook, WebhookVerificationError } from "standardwebhooks";

import { ReplyTo } from "./reply.js";

/** How far webhook-timestamp may be from the validator's clock, either way: the standardwebhooks library's fixed tolerance. */
export const TOLERANCE_SECONDS = 300;
/** The largest body a Verifier accepts by default; the gate's calls are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** The kinds of refused calls, the same words in every SDK. */
export type CallErrorKind = "bad_signature" | "stale_timestamp" | "malformed_header" | "malformed_body" | "body_too_large";

/** A refused call; detail never holds a secret or a signature. */
export class CallError extends Error {
  constructor(
    readonly kind: CallErrorKind,
    readonly detail: string,
  ) {
    super(`pre-approval call: ${kind}: ${detail}`);
    this.name = "CallError";
  }

  /** The status to answer the call with: 401, 413 or 400. */
  get statusCode(): number {
    if (this.kind === "bad_signature" || this.kind === "stale_timestamp") return 401;
    return this.kind === "body_too_large" ? 413 : 400;
  }
}

/** One pre-approval call, checked. Times of the body are RFC 3339 strings, as sent (new Date(s) reads them). */
export interface Call {
  /** The webhook-id header, the same on every retry of one delivery: "<privacy request id>:<webhook key>". */
  webhookId: string;
  /** The webhook-timestamp header. */
  sentAt: Date;
  privacyRequestId: string;
  privacyRequestStatus: string;
  direction: string;
  callbackType: string;
  identity: { email: string | null; phoneNumber: string | null };
  /** access, erasure, consent or update. */
  policyAction: string;
  privacyRequest: {
    id: string;
    status: string;
    externalId: string | null;
    requestedAt: string | null;
    identityVerifiedAt: string | null;
    policy: { key: string; name: string; actionTypes: string[] };
  };
  timestamp: string | null;
  /** Where and with which token to answer; usable after the call, within the token's lifetime (60 h by default). */
  replyTo: ReplyTo;
  /** The call's headers, lower-cased names, for a validator that also checks the connection's own headers. */
  headers: Record<string, string>;
  /** The signed body as received, and parsed, for fields this type omits. */
  body: string;
  data: Record<string, unknown>;
}

/** Headers as fetch (Headers) or node:http (IncomingHttpHeaders) give them. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

function lowerCased(headers: HeadersLike): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as Headers).forEach === "function" && typeof (headers as Headers).get === "function") {
    (headers as Headers).forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
    return out;
  }
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/**
 * Checks calls against a webhook's signing secrets. Pass the new and the previous secret while rotating: a call
 * signed with either is accepted. A secret is "whsec_" followed by standard base64 (the prefix may be left out).
 */
export class Verifier {
  readonly #webhooks: Webhook[];
  readonly maxBodyBytes: number;

  constructor(secrets: string | string[], options: { maxBodyBytes?: number } = {}) {
    const list = typeof secrets === "string" ? [secrets] : secrets;
    if (list.length === 0) throw new Error("@pregate/validator: no signing secret");
    list.forEach((s, i) => {
      const b64 = s.startsWith("whsec_") ? s.slice("whsec_".length) : s;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
        throw new Error(`@pregate/validator: signing secret ${i + 1} is not whsec_ followed by base64`);
      }
    });
    this.#webhooks = list.map((s) => new Webhook(s));
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /**
   * Checks a call given its headers and raw body (the bytes as received: a body parsed and re-encoded no longer
   * matches its signature): first the timestamp and the signature, then the body and the reply-to headers.
   * Throws CallError.
   */
  verify(headers: HeadersLike, body: string | Uint8Array): Call {
    const size = typeof body === "string" ? new TextEncoder().encode(body).length : body.length;
    if (size > this.maxBodyBytes) throw new CallError("body_too_large", `over ${this.maxBodyBytes} bytes`);
    let text: string;
    try {
      text = typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      throw new CallError("bad_signature", "the body is not UTF-8");
    }
    const h = lowerCased(headers);
    const [webhookId, sentAt] = this.#checkSignature(h, text);
    return parse(webhookId, sentAt, h, text);
  }

  #checkSignature(h: Record<string, string>, body: string): [string, Date] {
    const id = h["webhook-id"] ?? "";
    const ts = h["webhook-timestamp"] ?? "";
    if (id === "") throw new CallError("malformed_header", "no webhook-id");
    // Digits only: the library would read "+1700000000" or "1700000000.5".
    if (!/^[0-9]{1,18}$/.test(ts)) {
      throw new CallError("malformed_header", `webhook-timestamp ${JSON.stringify(ts.slice(0, 40))} is not unix seconds`);
    }
    const entries = (h["webhook-signature"] ?? "").split(/\s+/).filter((e) => e.split(",").length === 2);
    if (entries.length === 0) throw new CallError("bad_signature", "no webhook-signature with a version");
    const signed = { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": entries.join(" ") };
    let refusal = "";
    for (const webhook of this.#webhooks) {
      try {
        webhook.verify(body, signed, { jsonParse: false });
        return [id, new Date(Number(ts) * 1000)];
      } catch (e) {
        if (!(e instanceof WebhookVerificationError)) throw e;
        refusal = e.message;
        if (/timestamp/i.test(refusal)) {
          throw new CallError("stale_timestamp", `webhook-timestamp is ${refusal.toLowerCase()} (tolerance 5 min)`);
        }
      }
    }
    throw new CallError("bad_signature", `no v1 signature matches (${refusal})`);
  }
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

function time(value: unknown, name: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string" || !TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new CallError("malformed_body", `${name} is not an RFC 3339 time`);
  }
  return value;
}

function str(obj: Record<string, unknown>, key: string, where: string): string | null {
  const v = obj[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") throw new CallError("malformed_body", `${where}${key} is not a string`);
  return v;
}

function obj(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = parent[key];
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new CallError("malformed_body", `${key} is not an object`);
  return v as Record<string, unknown>;
}

function parse(webhookId: string, sentAt: Date, h: Record<string, string>, body: string): Call {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (e) {
    throw new CallError("malformed_body", `not JSON: ${(e as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new CallError("malformed_body", "not a JSON object");
  }
  const d = data as Record<string, unknown>;
  const privacyRequestId = str(d, "privacy_request_id", "");
  if (!privacyRequestId) throw new CallError("malformed_body", "no privacy_request_id");
  const identity = obj(d, "identity");
  const pr = obj(d, "privacy_request");
  const policy = obj(pr, "policy");
  const rules = policy["rules"] ?? [];
  if (!Array.isArray(rules) || !rules.every((r) => typeof r === "object" && r !== null)) {
    throw new CallError("malformed_body", "privacy_request.policy.rules is not a list of objects");
  }
  return {
    webhookId,
    sentAt,
    privacyRequestId,
    privacyRequestStatus: str(d, "privacy_request_status", "") ?? "",
    direction: str(d, "direction", "") ?? "",
    callbackType: str(d, "callback_type", "") ?? "",
    identity: { email: str(identity, "email", "identity."), phoneNumber: str(identity, "phone_number", "identity.") },
    policyAction: str(d, "policy_action", "") ?? "",
    privacyRequest: {
      id: str(pr, "id", "privacy_request.") ?? "",
      status: str(pr, "status", "privacy_request.") ?? "",
      externalId: str(pr, "external_id", "privacy_request."),
      requestedAt: time(pr["requested_at"], "privacy_request.requested_at"),
      identityVerifiedAt: time(pr["identity_verified_at"], "privacy_request.identity_verified_at"),
      policy: {
        key: str(policy, "key", "policy.") ?? "",
        name: str(policy, "name", "policy.") ?? "",
        actionTypes: (rules as Record<string, unknown>[]).map((r) => str(r, "action_type", "policy.rules[].") ?? ""),
      },
    },
    timestamp: time(d["timestamp"], "timestamp"),
    replyTo: replyTo(h),
    headers: h,
    body,
    data: d,
  };
}

function replyTo(h: Record<string, string>): ReplyTo {
  const base = h["reply-to-base-url"] ?? "";
  if (!/^https?:\/\/[^/?#]+/.test(base)) {
    throw new CallError("malformed_header", `reply-to-base-url ${JSON.stringify(base.slice(0, 100))} is not an http(s) URL`);
  }
  // The paths are joined to the base URL: they must stay on its host.
  const path = (name: string): string => {
    const p = h[name] ?? "";
    if (!p.startsWith("/") || p.startsWith("//")) {
      throw new CallError("malformed_header", `${name} ${JSON.stringify(p.slice(0, 100))} is not an absolute path`);
    }
    return p;
  };
  const token = h["reply-to-token"] ?? "";
  const eligiblePath = path("reply-to-eligible");
  const notEligiblePath = path("reply-to-not-eligible");
  if (token === "") throw new CallError("malformed_header", "no reply-to-token");
  return new ReplyTo(base, eligiblePath, notEligiblePath, token);
}

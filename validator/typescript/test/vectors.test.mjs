// The shared test vectors (validator/testdata/vectors.json; its "about" says how to read them).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { CallError, Replier, ReplyError, ReplyTo, Verifier, replyOutcome } from "@pregate/validator";
import { callBody, sign, signedCall } from "@pregate/validator/testing";

const V = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));

test("every section has vectors", () => {
  for (const key of ["signatures", "gate_calls", "calls", "replies", "reply_statuses"]) assert.ok(V[key].length > 0, key);
});

describe("signatures", () => {
  for (const s of V.signatures) {
    test(s.name, () => assert.equal(sign(s.secret, s.webhook_id, s.timestamp, s.body), s.signature));
  }
});

describe("the testing kit makes the gate's calls", () => {
  for (const gc of V.gate_calls) {
    test(gc.name, () => {
      const r = gc.request;
      const body = callBody(r.id, {
        email: r.email, phoneNumber: r.phone_number, policyAction: r.policy_action, policyKey: r.policy_key,
        status: r.status, externalId: r.external_id, requestedAt: r.requested_at,
        identityVerifiedAt: r.identity_verified_at, timestamp: gc.timestamp,
      });
      assert.equal(body, gc.body);
      const call = signedCall(gc.signed_with.map((n) => V.secrets[n]), body, {
        privacyRequestId: r.id, webhookKey: gc.webhook_key, token: gc.reply_token, baseUrl: gc.base_url, sentAt: gc.sent_at,
      });
      assert.deepEqual(call.headers, gc.headers);
    });
  }
});

function build(vc) {
  const gc = V.gate_calls[vc.gate_call];
  let body = V.bodies[vc.body];
  const now = Math.floor(Date.now() / 1000) + vc.timestamp_offset_seconds;
  const ts = String(now);
  const id = gc.headers["webhook-id"];
  const headers = { ...gc.headers, "webhook-timestamp": ts };
  delete headers["webhook-signature"];
  if (vc.signature !== null) {
    headers["webhook-signature"] = vc.signature.replace(/\{([a-z_]+)(?::(\d+))?\}/g, (_, name, n) => {
      const sig = sign(V.secrets[name], id, ts, body).slice(3);
      return n ? sig.slice(0, Number(n)) : sig;
    });
  }
  for (const [k, v] of Object.entries(vc.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v.replaceAll("{ts}", ts).replaceAll("{ts-1}", String(now - 1));
  }
  if (vc.tamper) body = body.replace(vc.tamper.from, vc.tamper.to);
  return { headers, body };
}

describe("calls", () => {
  for (const vc of V.calls) {
    test(vc.name, () => {
      const { headers, body } = build(vc);
      const verifier = new Verifier(vc.verify_with.map((n) => V.secrets[n]));
      // Both ways a server holds a body: bytes (node:http, fetch) and a string.
      for (const raw of [new TextEncoder().encode(body), body]) {
        if (vc.expect !== "ok") {
          assert.throws(() => verifier.verify(headers, raw), (e) => e instanceof CallError && e.kind === vc.expect);
          continue;
        }
        const c = verifier.verify(new Headers(headers), raw);
        assert.deepEqual({
          webhook_id: c.webhookId, privacy_request_id: c.privacyRequestId, privacy_request_status: c.privacyRequestStatus,
          email: c.identity.email, phone_number: c.identity.phoneNumber, policy_action: c.policyAction,
          policy_key: c.privacyRequest.policy.key, external_id: c.privacyRequest.externalId,
          eligible_url: c.replyTo.url("eligible"), not_eligible_url: c.replyTo.url("not_eligible"), reply_token: c.replyTo.token,
        }, vc.call);
        assert.equal(c.sentAt.getTime(), Number(headers["webhook-timestamp"]) * 1000);
      }
    });
  }
});

// A fetch answering each request with the next status (the last repeats; null: no connection).
function recorder(...statuses) {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({ url: String(url), ...init });
    const status = statuses[Math.min(sent.length, statuses.length) - 1];
    if (status === null) throw new TypeError("fetch failed");
    return new Response(status === 204 ? null : "null", { status });
  };
  return { sent, fetch };
}

describe("replies", () => {
  for (const vr of V.replies) {
    test(vr.name, async () => {
      const rec = recorder(200);
      const to = new ReplyTo(vr.reply_to.base_url, vr.reply_to.eligible, vr.reply_to.not_eligible, vr.reply_to.token);
      await new Replier({ fetch: rec.fetch }).reply(to, vr.decision);
      assert.equal(rec.sent.length, 1);
      const [got] = rec.sent;
      assert.deepEqual([got.method, got.url, got.body], [vr.request.method, vr.request.url, vr.request.body]);
      const headers = new Headers(got.headers);
      for (const [k, v] of Object.entries(vr.request.headers)) assert.equal(headers.get(k), v);
    });
  }
});

describe("reply statuses", () => {
  // Each status is answered once, then 200: retried, it takes a second attempt; final, it is the error.
  const to = new ReplyTo("https://gate.example/api/v1", "/e", "/n", "t");
  for (const vs of V.reply_statuses) {
    test(String(vs.status), async () => {
      assert.equal(replyOutcome(vs.status), vs.outcome);
      const rec = recorder(vs.status, 200);
      let outcome;
      try {
        await new Replier({ fetch: rec.fetch, baseDelayMs: 1, maxDelayMs: 1 }).reply(to, "eligible");
        outcome = { 1: "accepted", 2: "retry" }[rec.sent.length];
      } catch (e) {
        assert.ok(e instanceof ReplyError);
        assert.equal(e.status, vs.status);
        outcome = rec.sent.length === 1 ? "final" : `${rec.sent.length} attempts then ${e}`;
      }
      assert.equal(outcome, vs.outcome);
    });
  }
});

// The handlers, driven through the testing kit as a validator author would: Fetch API, node:http and Express.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { describe, test } from "node:test";

import express from "express";

import { fetchHandler, nodeHandler, ReplyTo, Verifier } from "@pregate/validator";
import { FakeGate } from "@pregate/validator/testing";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const verifier = new Verifier([SECRET, OLD_SECRET]);
const quiet = { info() {}, warn() {}, error() {} };
const denyList = (call) => (call.identity.email === "blocked@example.com" ? "not_eligible" : "eligible");

// Each app serves a handler and returns post(call) -> status; close() stops it.
const apps = {
  async fetch(opts) {
    const pending = [];
    const handle = fetchHandler({ ...opts, waitUntil: (p) => pending.push(p) });
    return {
      async post(call) {
        const res = await handle(new Request("http://validator.test/validate", { method: "POST", headers: call.headers, body: call.body }));
        await Promise.all(pending);
        return res.status;
      },
      close() {},
    };
  },
  async node(opts) {
    return listen(createServer(nodeHandler(opts)));
  },
  async express(opts) {
    const app = express();
    app.post("/validate", nodeHandler(opts));
    return listen(createServer(app));
  },
  async "express.raw"(opts) {
    const app = express();
    app.post("/validate", express.raw({ type: "*/*" }), nodeHandler(opts));
    return listen(createServer(app));
  },
};

async function listen(server) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}/validate`;
  return {
    async post(call) {
      const res = await fetch(url, { method: "POST", headers: call.headers, body: call.body });
      await res.text();
      return res.status;
    },
    close: () => server.close(),
  };
}

async function until(cond) {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

for (const [name, start] of Object.entries(apps)) {
  describe(name, () => {
    for (const sync of [false, true]) {
      test(`answers eligible and not eligible${sync ? ", sync" : ""}`, async () => {
        const gate = new FakeGate();
        const app = await start({ verifier, decide: denyList, replier: gate.replier(), sync, log: quiet });
        try {
          assert.equal(await app.post(gate.call(SECRET, "pri_1", { email: "ada@example.com" })), sync ? 200 : 202);
          assert.equal(await app.post(gate.call(SECRET, "pri_2", { email: "blocked@example.com" })), sync ? 200 : 202);
          await until(() => gate.replies.length === 2);
          assert.deepEqual(gate.replies, [
            { privacyRequestId: "pri_1", decision: "eligible" },
            { privacyRequestId: "pri_2", decision: "not_eligible" },
          ]);
        } finally {
          app.close();
        }
      });
    }

    test("rotation and refusals", async () => {
      const gate = new FakeGate();
      const app = await start({ verifier, decide: denyList, replier: gate.replier(), sync: true, log: quiet });
      try {
        assert.equal(await app.post(gate.call([SECRET, OLD_SECRET], "pri_1")), 200);
        assert.equal(await app.post(gate.call(OLD_SECRET, "pri_2")), 200);
        assert.equal(await app.post(gate.call(`whsec_${"A".repeat(43)}=`, "pri_3")), 401);
        assert.equal(await app.post(gate.call(SECRET, "pri_4", { sentAt: Math.floor(Date.now() / 1000) - 600 })), 401);
        const good = gate.call(SECRET, "pri_5");
        assert.equal(await app.post({ ...good, body: `${good.body} ` }), 401);
        assert.equal(await app.post({ ...good, body: "{}", headers: { ...good.headers, "webhook-signature": "v1,x" } }), 401);
        assert.deepEqual(gate.replies.map((r) => r.privacyRequestId), ["pri_1", "pri_2"]);
      } finally {
        app.close();
      }
    });

    test("sync: a refused reply or a failing decide answers 500", async () => {
      const gate = new FakeGate(undefined, [403]);
      let app = await start({ verifier, decide: denyList, replier: gate.replier(), sync: true, log: quiet });
      try {
        assert.equal(await app.post(gate.call(SECRET, "pri_1")), 500);
        assert.equal(gate.attempts, 1);
      } finally {
        app.close();
      }
      const broken = () => Promise.reject(new Error("CRM down"));
      app = await start({ verifier, decide: broken, replier: gate.replier(), sync: true, log: quiet });
      try {
        assert.equal(await app.post(gate.call(SECRET, "pri_2")), 500);
        assert.deepEqual(gate.replies, []);
      } finally {
        app.close();
      }
    });

    test("retries until the gate accepts", async () => {
      const gate = new FakeGate(undefined, [503, null, 429]);
      const app = await start({ verifier, decide: denyList, replier: gate.replier(), sync: true, log: quiet });
      try {
        assert.equal(await app.post(gate.call(SECRET, "pri_1")), 200);
        assert.equal(gate.attempts, 4);
        assert.deepEqual(gate.replies, [{ privacyRequestId: "pri_1", decision: "eligible" }]);
      } finally {
        app.close();
      }
    });
  });
}

test("later sends nothing; the kept replyTo answers afterwards", async () => {
  const gate = new FakeGate();
  const kept = [];
  const app = await apps.fetch({ verifier, decide: (c) => (kept.push(c), "later"), replier: gate.replier(), log: quiet });
  assert.equal(await app.post(gate.call(SECRET, "pri_1")), 202);
  assert.deepEqual(gate.replies, []);
  await gate.replier().reply(kept[0].replyTo, "not_eligible");
  assert.deepEqual(gate.replies, [{ privacyRequestId: "pri_1", decision: "not_eligible" }]);
  assert.ok(!JSON.stringify(kept[0].replyTo).includes(kept[0].replyTo.token), "the token stays out of JSON logs");
});

test("the fake gate refuses a token it did not issue", async () => {
  const gate = new FakeGate();
  const call = gate.call(SECRET, "pri_1");
  const other = gate.call(SECRET, "pri_2");
  const { baseUrl, eligiblePath, notEligiblePath } = call.replyTo;
  const forged = new ReplyTo(baseUrl, eligiblePath, notEligiblePath, other.replyTo.token);
  await assert.rejects(gate.replier().reply(forged, "eligible"), /HTTP 403/);
});

test("a body parsed before the handler is a clear error", async () => {
  const app = express();
  app.use(express.json());
  app.post("/validate", (req, res, next) => nodeHandler({ verifier, decide: denyList, log: quiet })(req, res).catch(next));
  app.use((err, _req, res, _next) => res.status(500).send(String(err.message)));
  const server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const call = new FakeGate().call(SECRET, "pri_1");
    const res = await fetch(`http://127.0.0.1:${server.address().port}/validate`, { method: "POST", headers: call.headers, body: call.body });
    assert.equal(res.status, 500);
    assert.match(await res.text(), /express\.raw/);
  } finally {
    server.close();
  }
});

// @ts-check
// An example pre-approval validator on Node with @pregate/validator: it checks each call's signature,
// acknowledges it with 202, and answers through reply-to-base-url with the reply token: eligible, unless the
// subject's email is on its deny list.
//
//   npm ci && WEBHOOK_SIGNING_SECRET=whsec_... PORT=8099 DENY=blocked@example.com npm start
//
// During a secret rotation, give the new and the old secret, comma-separated.
import { createServer } from "node:http";

import { nodeHandler, Verifier } from "@pregate/validator";

const secrets = (process.env.WEBHOOK_SIGNING_SECRET ?? "").split(",").filter(Boolean);
if (secrets.length === 0) {
  console.error("set WEBHOOK_SIGNING_SECRET to the webhook's signing secret (whsec_...)");
  process.exit(2);
}
const deny = new Set((process.env.DENY ?? "").split(",").map((e) => e.trim().toLowerCase()).filter(Boolean));

/** @param {import("@pregate/validator").Call} call @returns {import("@pregate/validator").Decision} */
function decide(call) {
  return deny.has((call.identity.email ?? "").toLowerCase()) ? "not_eligible" : "eligible"; // not eligible: manual review
}

const handler = nodeHandler({ verifier: new Verifier(secrets), decide });
const server = createServer((req, res) => {
  if (req.url !== "/validate") {
    res.writeHead(404).end();
    return;
  }
  handler(req, res).catch((e) => {
    console.error(e);
    res.writeHead(500).end();
  });
});
const port = Number(process.env.PORT ?? 8099);
const host = process.env.HOST ?? "127.0.0.1";
server.listen(port, host, () => console.log(`validator listening on http://${host}:${port}/validate`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));

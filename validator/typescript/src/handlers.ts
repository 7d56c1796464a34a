// Handlers around one decide function: for the Fetch API (Request/Response) and for node:http and Express.
import type { IncomingMessage, ServerResponse } from "node:http";

import { type Call, CallError, type Verifier } from "./call.js";
import { type Decision, Replier } from "./reply.js";

export interface HandlerOptions {
  verifier: Verifier;
  /** Makes the decision for one call; an exception (or rejection) sends no answer. */
  decide: (call: Call) => Decision | Promise<Decision>;
  /** Sends the answers; a default Replier if not given. */
  replier?: Replier;
  /**
   * Decide and reply before answering the call: 200 once the answer is accepted (202 for "later"), 500 when
   * decide or the reply failed, so the gate retries the call. Use it where nothing may run after the response
   * and decide is quick: the gate waits 10 s by default for the whole exchange.
   */
  sync?: boolean;
  /** Keeps the background answer alive on runtimes that stop after the response (a Worker's ctx.waitUntil). */
  waitUntil?: (answer: Promise<unknown>) => void;
  /** Gets a line per refused call and per answer; console by default. Tokens and signatures are never logged. */
  log?: Pick<Console, "info" | "warn" | "error">;
}

interface Outcome {
  status: number;
  text: string;
  /** The answer still running in the background, when not sync. */
  pending?: Promise<unknown>;
}

/** Verifies, then decides and replies (in the background unless sync): the status to answer the call with. */
async function serve(opts: HandlerOptions, headers: Headers | IncomingMessage["headers"], body: string | Uint8Array): Promise<Outcome> {
  const log = opts.log ?? console;
  let call: Call;
  try {
    call = opts.verifier.verify(headers, body);
  } catch (e) {
    if (!(e instanceof CallError)) throw e;
    log.warn(`refused a pre-approval call: ${e.message}`);
    return { status: e.statusCode, text: e.kind };
  }
  const replier = opts.replier ?? new Replier();
  const answer = (async (): Promise<Decision | null> => {
    const where = `privacy_request_id=${call.privacyRequestId} webhook_id=${call.webhookId}`;
    try {
      const decision = await opts.decide(call);
      if (decision !== "later") await replier.reply(call.replyTo, decision);
      log.info(`pre-approval call answered: ${decision} ${where}`);
      return decision;
    } catch (e) {
      log.error(`pre-approval call not answered: ${String(e)} ${where}`);
      return null;
    }
  })();
  if (!opts.sync) return { status: 202, text: "", pending: answer };
  const decision = await answer;
  if (decision === null) return { status: 500, text: "could not answer" };
  return { status: decision === "later" ? 202 : 200, text: "" };
}

/** A handler for the Fetch API: Request in, Response out (Deno, Bun, Workers, Next.js route handlers...). */
export function fetchHandler(opts: HandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405, headers: { allow: "POST" } });
    const out = await serve(opts, request.headers, new Uint8Array(await request.arrayBuffer()));
    if (out.pending) opts.waitUntil?.(out.pending);
    return new Response(out.text || null, { status: out.status });
  };
}

/** The raw body: Express's express.raw() leaves a Buffer in req.body; otherwise the stream is read here. */
async function rawBody(req: IncomingMessage & { body?: unknown }): Promise<Uint8Array | string> {
  if (req.body instanceof Uint8Array || typeof req.body === "string") return req.body;
  if (req.body !== undefined && req.readableEnded) {
    throw new Error("@pregate/validator: the body was parsed before the handler; the signature covers the raw bytes: " +
      "mount the handler before express.json(), or use express.raw({ type: '*/*' })");
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A handler for node:http and Express: app.post("/validate", nodeHandler({ verifier, decide })). */
export function nodeHandler(opts: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end("method not allowed");
      return;
    }
    const out = await serve(opts, req.headers, await rawBody(req));
    res.writeHead(out.status, out.text ? { "content-type": "text/plain" } : {}).end(out.text);
  };
}

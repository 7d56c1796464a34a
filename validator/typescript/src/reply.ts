// Sending a validator's answer back to the gate, with the retry rules.

/**
 * A validator's answer: "eligible" lets the request go on (once every webhook has answered eligible, the gate
 * approves it); "not_eligible" flags it for manual review by an admin (it is not denied); "later", from a decide
 * function, acknowledges the call without answering: it kept call.replyTo to answer later with a Replier.
 */
export type Decision = "eligible" | "not_eligible" | "later";

/** Where and how to answer one call: its reply-to headers. */
export class ReplyTo {
  constructor(
    /** reply-to-base-url, the API base ending in /api/v1 */
    readonly baseUrl: string,
    readonly eligiblePath: string,
    readonly notEligiblePath: string,
    /** Sent as a Bearer credential; never log it. */
    readonly token: string,
  ) {}

  url(decision: Decision): string {
    if (decision === "later") throw new Error("@pregate/validator: later is not an answer to send");
    return this.baseUrl.replace(/\/+$/, "") + (decision === "eligible" ? this.eligiblePath : this.notEligiblePath);
  }

  /** Keeps the token out of logs. */
  toJSON(): Record<string, string> {
    return { baseUrl: this.baseUrl, eligiblePath: this.eligiblePath, notEligiblePath: this.notEligiblePath };
  }
}

export type Outcome = "accepted" | "retry" | "final";

/**
 * What a reply helper does with the gate's response: a 2xx is accepted (answering the same again is a 2xx too,
 * so a retry after a lost response is safe); no response (null), 429 and 5xx are retried; any other status is
 * final (the gate explains it in "detail": 400 when an admin decided first, 403 when the token has expired...).
 */
export function replyOutcome(status: number | null): Outcome {
  if (status === null || status === 429 || status >= 500) return "retry";
  return status >= 200 && status < 300 ? "accepted" : "final";
}

/** A reply the gate did not accept. */
export class ReplyError extends Error {
  constructor(
    readonly decision: Decision,
    readonly attempts: number,
    /** The last response's status; null if none came. */
    readonly status: number | null,
    /** The "detail" of the gate's error body, if it had one. */
    readonly detail: string | null,
    readonly body: string,
    override readonly cause: unknown,
  ) {
    let msg = `@pregate/validator: reply ${decision} failed after ${attempts} attempt(s)`;
    if (status !== null) msg += `: HTTP ${status}` + (detail ? `: ${detail}` : "");
    if (cause !== undefined) msg += `: ${String(cause)}`;
    super(msg);
    this.name = "ReplyError";
  }
}

export interface ReplierOptions {
  /** The fetch to send with (a test's fake gate, a proxy agent...); globalThis.fetch by default. */
  fetch?: typeof fetch;
  /** 5 by default. */
  maxAttempts?: number;
  /** Milliseconds before the second attempt, doubled each time; 500 by default. */
  baseDelayMs?: number;
  /** Cap of the wait; 30 000 by default. */
  maxDelayMs?: number;
  /** Per attempt; 10 000 by default. */
  timeoutMs?: number;
}

const MAX_ERROR_BODY = 4 << 10;

/**
 * Sends answers, retrying no response, 429 and 5xx with exponential backoff and jitter, at most maxAttempts
 * times in all; any other non-2xx is final.
 */
export class Replier {
  readonly #fetch: typeof fetch;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly timeoutMs: number;

  constructor(options: ReplierOptions = {}) {
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** POSTs the decision to its reply URL with the token; rejects with a ReplyError when the gate did not accept it. */
  async reply(to: ReplyTo, decision: Decision): Promise<void> {
    const url = to.url(decision);
    let status: number | null = null;
    let detail: string | null = null;
    let body = "";
    let cause: unknown;
    for (let attempt = 1; ; attempt++) {
      status = null;
      detail = null;
      body = "";
      cause = undefined;
      try {
        const res = await this.#fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${to.token}`, "content-type": "application/json" },
          body: "{}",
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.text();
        if (replyOutcome(res.status) === "accepted") return;
        status = res.status;
        body = text.slice(0, MAX_ERROR_BODY);
        try {
          const parsed: unknown = JSON.parse(text);
          const d = (parsed as { detail?: unknown } | null)?.detail;
          detail = typeof d === "string" ? d : null;
        } catch {
          detail = null;
        }
      } catch (e) {
        cause = e;
      }
      if (replyOutcome(status) === "final" || attempt >= this.maxAttempts) {
        throw new ReplyError(decision, attempt, status, detail, body, cause);
      }
      // base·2^(n-1), capped, then a random point in its upper half, so validators that failed together do not
      // retry together.
      const d = Math.min(this.baseDelayMs * 2 ** (attempt - 1), this.maxDelayMs);
      await new Promise((resolve) => setTimeout(resolve, d / 2 + Math.random() * (d / 2)));
    }
  }
}

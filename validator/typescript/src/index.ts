/**
 * The customer's side of pregate's pre-approval webhooks.
 *
 * The gate POSTs a JSON body describing a privacy request to the validator's URL, signed with Standard Webhooks
 * headers under the webhook's signing secret ("whsec_..."), with where and how to answer in reply-to headers.
 * The validator acknowledges the call with any 2xx and answers by calling back: POST
 * {reply-to-base-url}{reply-to-eligible or reply-to-not-eligible} with "Authorization: Bearer {reply-to-token}"
 * and body {}.
 *
 * A Verifier checks a call and returns a Call; a Replier sends the answer with the retry rules; fetchHandler and
 * nodeHandler (node:http, Express) put both behind one decide function; "@pregate/validator/testing" signs calls
 * as the gate does and plays the gate's reply routes.
 */
export { type Call, CallError, type CallErrorKind, DEFAULT_MAX_BODY_BYTES, type HeadersLike, TOLERANCE_SECONDS, Verifier } from "./call.js";
export { fetchHandler, type HandlerOptions, nodeHandler } from "./handlers.js";
export { type Decision, type Outcome, Replier, type ReplierOptions, ReplyError, ReplyTo, replyOutcome } from "./reply.js";

// Package validator is the customer's side of pregate's pre-approval
// webhooks: it checks and parses the call the gate sends to a validator, and
// sends the validator's answer back.
//
// The gate POSTs a JSON body describing a privacy request to the validator's
// URL, signed with Standard Webhooks headers (webhook-id, webhook-timestamp,
// webhook-signature) under the webhook's signing secret ("whsec_…", shown
// once when the webhook is created or rotated). The call also carries where
// and how to answer: reply-to-base-url, reply-to-eligible,
// reply-to-not-eligible and reply-to-token. As in Ethyca Fides, the
// validator acknowledges the call with any 2xx and answers by calling back:
// POST {reply-to-base-url}{reply-to-eligible or reply-to-not-eligible} with
// "Authorization: Bearer {reply-to-token}" and body {}.
//
// A Verifier checks a call and returns a *Call; a Replier sends the answer,
// retrying 5xx, 429 and network errors; a Handler puts both behind an
// http.Handler around one decision function. The package imports only the
// standard library.
package validator

"""The customer's side of pregate's pre-approval webhooks.

The gate POSTs a JSON body describing a privacy request to the validator's
URL, signed with Standard Webhooks headers under the webhook's signing
secret ("whsec_..."), with where and how to answer in reply-to headers. The
validator acknowledges the call with any 2xx and answers by calling back:
POST {reply-to-base-url}{reply-to-eligible or reply-to-not-eligible} with
"Authorization: Bearer {reply-to-token}" and body {}.

A Verifier checks a call and returns a Call; a Replier (or AsyncReplier)
sends the answer with the retry rules; pregate_validator.fastapi and
pregate_validator.flask put both behind an endpoint around one decide
function; pregate_validator.testing signs calls as the gate does and plays
the gate's reply routes.
"""

from ._answer import Decide
from ._call import (
    BAD_SIGNATURE,
    BODY_TOO_LARGE,
    DEFAULT_MAX_BODY_BYTES,
    MALFORMED_BODY,
    MALFORMED_HEADER,
    STALE_TIMESTAMP,
    TOLERANCE,
    Call,
    CallError,
    Identity,
    Policy,
    PrivacyRequest,
    Verifier,
)
from ._reply import AsyncReplier, Decision, Outcome, Replier, ReplyError, ReplyTo, reply_outcome

__all__ = [
    "BAD_SIGNATURE",
    "BODY_TOO_LARGE",
    "DEFAULT_MAX_BODY_BYTES",
    "MALFORMED_BODY",
    "MALFORMED_HEADER",
    "STALE_TIMESTAMP",
    "TOLERANCE",
    "AsyncReplier",
    "Call",
    "CallError",
    "Decide",
    "Decision",
    "Identity",
    "Outcome",
    "Policy",
    "PrivacyRequest",
    "Replier",
    "ReplyError",
    "ReplyTo",
    "Verifier",
    "reply_outcome",
]

"""Schemathesis hooks of the contract test (infra/contract).

infra/schemathesis.toml lets some operations refuse schema-valid data with
one more status, for rules the document states but a schema cannot express
because they depend on stored state or relate two parameters. The check below holds each of those
refusals to the exact case that justifies it: the documented text, for a
request that can meet the rule. Any other refusal with that status fails.
"""

import os

import schemathesis

DUPLICATE_WEBHOOKS = "Check request body: there are multiple webhooks whose keys or names resolve to the same value."
SECRETS_REQUIRED = "HttpsSchema must be supplied all of: ['url', 'authorization']."
SECRETS_TOO_BIG = "secrets must not exceed 4096 bytes"
EXPORT_RANGE = "the range must run forward and span at most 366 days"
OPEN_NEEDS_DUE_BEFORE = "open filters a due date listing: give due_before too"


def _verify_not_possible(case, detail):
    # The request is not awaiting a code (its status is named), or its code expired.
    return isinstance(detail, str) and (
        detail.startswith("Invalid identity verification request. Privacy request ")
        or detail == "The identification code has expired. Submit a new request."
    )


def _cursor_gone(case, detail):
    # A cursor that no longer names a stored item (a request, a delivery-log
    # or access-log entry).
    return detail == "Invalid cursor" and "cursor" in (case.query or {})


def _duplicate_in_set(case, detail):
    # Two items of the set whose keys or names resolve to the same value.
    return detail == DUPLICATE_WEBHOOKS and isinstance(case.body, list) and len(case.body) >= 2


def _name_taken(case, detail):
    # A name another webhook already has.
    return detail == DUPLICATE_WEBHOOKS and isinstance(case.body, dict) and "name" in case.body


def _secrets_incomplete(case, detail):
    # The merge leaves the stored secrets without url or authorization (the
    # body did not bring both, and the connection had none yet), or makes
    # them, with what was stored, larger than the 4,096 bytes allowed.
    body = case.body if isinstance(case.body, dict) else {}
    msgs = {d.get("msg") for d in detail if isinstance(d, dict)} if isinstance(detail, list) else set()
    return (SECRETS_REQUIRED in msgs and not ("url" in body and "authorization" in body)) or SECRETS_TOO_BIG in msgs


def _range_not_allowed(case, detail):
    # created_from and created_to (or now) run backwards or span more than 366 days.
    locs = [tuple(d.get("loc", [])) for d in detail if isinstance(d, dict)] if isinstance(detail, list) else []
    msgs = {d.get("msg") for d in detail if isinstance(d, dict)} if isinstance(detail, list) else set()
    return locs == [("query", "created_to")] and msgs == {EXPORT_RANGE}


def _open_without_due_before(case, detail):
    # open, which filters a due date listing, without due_before.
    query = case.query or {}
    locs = [tuple(d.get("loc", [])) for d in detail if isinstance(d, dict)] if isinstance(detail, list) else []
    msgs = {d.get("msg") for d in detail if isinstance(d, dict)} if isinstance(detail, list) else set()
    return "open" in query and "due_before" not in query and locs == [("query", "due_before")] and msgs == {OPEN_NEEDS_DUE_BEFORE}


def _not_this_console(case, detail):
    # The sign-in form names another redirect URI than this server's console.
    body = case.body if isinstance(case.body, dict) else {}
    return body.get("redirect_uri") != os.environ.get("PREGATE_CONSOLE_URL")


# (operation, status) -> whether a refusal of schema-valid data is the stateful rule.
STATEFUL_REFUSALS = {
    ("POST /privacy-request/{id}/verify", 400): _verify_not_possible,
    ("GET /privacy-request", 400): _cursor_gone,
    ("GET /privacy-request", 422): _open_without_due_before,
    ("GET /dsr/webhook/pre_approval/{key}/deliveries", 400): _cursor_gone,
    ("GET /audit/access", 400): _cursor_gone,
    ("PUT /dsr/webhook/pre_approval", 400): _duplicate_in_set,
    ("PATCH /dsr/webhook/pre_approval/{key}", 400): _name_taken,
    ("PATCH /connection/{key}/secret", 422): _secrets_incomplete,
    ("POST /oauth/authorize", 400): _not_this_console,
    ("GET /privacy-request/export", 422): _range_not_allowed,
}


@schemathesis.check
def stateful_refusals_only(ctx, response, case):
    """Schema-valid data refused with an allowance's status only for that allowance's rule."""
    justified = STATEFUL_REFUSALS.get((case.operation.label, response.status_code))
    meta = case.meta
    if justified is None or meta is None or not meta.generation.mode.is_positive:
        return None
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if not justified(case, detail):
        raise AssertionError(
            f"Valid data refused with {response.status_code} for another reason than the stateful rule "
            f"infra/schemathesis.toml allows it for: {detail!r}"
        )
    return None

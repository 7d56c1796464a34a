"""Checking and parsing the gate's pre-approval call."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ._reply import ReplyTo

#: How far webhook-timestamp may be from the validator's clock, either way:
#: the official standardwebhooks library's fixed tolerance.
TOLERANCE = timedelta(minutes=5)
#: The largest body Verifier accepts by default; the gate's calls are a few KiB.
DEFAULT_MAX_BODY_BYTES = 1 << 20

# The kinds of refused calls (CallError.kind), the same words in every SDK.
BAD_SIGNATURE = "bad_signature"
STALE_TIMESTAMP = "stale_timestamp"
MALFORMED_HEADER = "malformed_header"
MALFORMED_BODY = "malformed_body"
BODY_TOO_LARGE = "body_too_large"

_STATUS = {BAD_SIGNATURE: 401, STALE_TIMESTAMP: 401, BODY_TOO_LARGE: 413}


class CallError(Exception):
    """A refused call. ``kind`` is one of the kinds above; ``detail`` never holds a secret or a signature."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"pre-approval call: {kind}: {detail}")
        self.kind = kind
        self.detail = detail

    @property
    def status_code(self) -> int:
        """The status to answer the call with: 401, 413 or 400."""
        return _STATUS.get(self.kind, 400)


@dataclass(frozen=True)
class Identity:
    email: str | None
    phone_number: str | None


@dataclass(frozen=True)
class Policy:
    key: str
    name: str
    action_types: tuple[str, ...]


@dataclass(frozen=True)
class PrivacyRequest:
    id: str
    status: str
    external_id: str | None
    requested_at: datetime | None
    identity_verified_at: datetime | None
    policy: Policy


@dataclass(frozen=True)
class Call:
    """One pre-approval call, checked."""

    #: The webhook-id header, the same on every retry of one delivery: "<privacy request id>:<webhook key>".
    webhook_id: str
    #: The webhook-timestamp header.
    sent_at: datetime
    privacy_request_id: str
    privacy_request_status: str
    direction: str
    callback_type: str
    identity: Identity
    #: access, erasure, consent or update.
    policy_action: str
    privacy_request: PrivacyRequest
    timestamp: datetime | None
    #: Where and with which token to answer; usable after the call, within the token's lifetime (60 h by default).
    reply_to: ReplyTo
    #: The call's headers, lower-cased names, for a validator that also checks the connection's own headers.
    headers: Mapping[str, str] = field(repr=False)
    #: The signed body as received, and parsed, for fields this type omits.
    body: bytes = field(repr=False)
    data: Mapping[str, Any] = field(repr=False)


class Verifier:
    """Checks calls against a webhook's signing secrets.

    Pass the new and the previous secret while rotating: a call signed with
    either is accepted. A secret is "whsec_" followed by standard base64 (the
    prefix may be left out).
    """

    def __init__(self, *secrets: str, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if not secrets:
            raise ValueError("pregate_validator: no signing secret")
        for i, secret in enumerate(secrets, 1):
            try:
                key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if not key:
                raise ValueError(f"pregate_validator: signing secret {i} is not whsec_ followed by base64")
        self._webhooks = [Webhook(s) for s in secrets]
        self.max_body_bytes = max_body_bytes

    def verify(self, headers: Mapping[str, str], body: bytes) -> Call:
        """Check a call given its headers and raw body: first the timestamp
        and the signature, then the body and the reply-to headers. Raises
        CallError."""
        if len(body) > self.max_body_bytes:
            raise CallError(BODY_TOO_LARGE, f"over {self.max_body_bytes} bytes")
        h = {k.lower(): v for k, v in headers.items()}
        webhook_id, sent_at = self._check_signature(h, body)
        return _parse(webhook_id, sent_at, h, body)

    def _check_signature(self, h: Mapping[str, str], body: bytes) -> tuple[str, datetime]:
        webhook_id, ts = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
        if not webhook_id:
            raise CallError(MALFORMED_HEADER, "no webhook-id")
        # Digits only: the library would take a sign or a fraction.
        if not ts.isascii() or not ts.isdigit() or len(ts) > 18:
            raise CallError(MALFORMED_HEADER, f"webhook-timestamp {ts[:40]!r} is not unix seconds")
        # The library checks the tolerance too, but calls a time past the year 9999 malformed.
        age = time.time() - int(ts)
        if abs(age) > TOLERANCE.total_seconds():
            raise CallError(STALE_TIMESTAMP, f"webhook-timestamp is {int(age)} s from now, tolerance 5 min")
        # Entries the library would choke on (no comma, several) cannot match: drop them.
        entries = [e for e in h.get("webhook-signature", "").split() if e.count(",") == 1]
        if not entries:
            raise CallError(BAD_SIGNATURE, "no webhook-signature with a version")
        signed = {"webhook-id": webhook_id, "webhook-timestamp": ts, "webhook-signature": " ".join(entries)}
        refusal = ""
        for webhook in self._webhooks:
            try:
                webhook.verify(body, signed, json_parse=False)
            except WebhookVerificationError as e:
                refusal = str(e)
                if "timestamp" in refusal:
                    detail = f"webhook-timestamp is {refusal.lower()} (tolerance 5 min)"
                    raise CallError(STALE_TIMESTAMP, detail) from None
                continue
            except (binascii.Error, ValueError, UnicodeDecodeError):
                refusal = "a signature is not base64, or the body is not UTF-8"
                continue
            return webhook_id, datetime.fromtimestamp(int(ts), tz=timezone.utc)
        raise CallError(BAD_SIGNATURE, f"no v1 signature matches ({refusal})")


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def _time(value: object, name: str) -> datetime | None:
    """An RFC 3339 time of the body (Python 3.10's fromisoformat takes no Z nor nanoseconds)."""
    if value is None:
        return None
    m = _TIME.match(value) if isinstance(value, str) else None
    if m is None:
        raise CallError(MALFORMED_BODY, f"{name} is not an RFC 3339 time")
    zone = "+00:00" if m[3] == "Z" else m[3]
    try:
        return datetime.fromisoformat(f"{m[1]}.{(m[2] or '').ljust(6, '0')[:6]}{zone}")
    except ValueError:
        raise CallError(MALFORMED_BODY, f"{name} is not an RFC 3339 time") from None


def _str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise CallError(MALFORMED_BODY, f"{where}{key} is not a string")
    return value


def _obj(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CallError(MALFORMED_BODY, f"{key} is not an object")
    return value


def _parse(webhook_id: str, sent_at: datetime, h: Mapping[str, str], body: bytes) -> Call:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise CallError(MALFORMED_BODY, f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise CallError(MALFORMED_BODY, "not a JSON object")
    request_id = _str(data, "privacy_request_id", "")
    if not request_id:
        raise CallError(MALFORMED_BODY, "no privacy_request_id")
    identity, pr = _obj(data, "identity"), _obj(data, "privacy_request")
    policy = _obj(pr, "policy")
    rules = policy.get("rules") or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise CallError(MALFORMED_BODY, "privacy_request.policy.rules is not a list of objects")
    return Call(
        webhook_id=webhook_id,
        sent_at=sent_at,
        privacy_request_id=request_id,
        privacy_request_status=_str(data, "privacy_request_status", "") or "",
        direction=_str(data, "direction", "") or "",
        callback_type=_str(data, "callback_type", "") or "",
        identity=Identity(email=_str(identity, "email", "identity."),
                          phone_number=_str(identity, "phone_number", "identity.")),
        policy_action=_str(data, "policy_action", "") or "",
        privacy_request=PrivacyRequest(
            id=_str(pr, "id", "privacy_request.") or "",
            status=_str(pr, "status", "privacy_request.") or "",
            external_id=_str(pr, "external_id", "privacy_request."),
            requested_at=_time(pr.get("requested_at"), "privacy_request.requested_at"),
            identity_verified_at=_time(pr.get("identity_verified_at"), "privacy_request.identity_verified_at"),
            policy=Policy(key=_str(policy, "key", "policy.") or "", name=_str(policy, "name", "policy.") or "",
                          action_types=tuple(_str(r, "action_type", "policy.rules[].") or "" for r in rules)),
        ),
        timestamp=_time(data.get("timestamp"), "timestamp"),
        reply_to=_reply_to(h),
        headers=h,
        body=body,
        data=data,
    )


def _reply_to(h: Mapping[str, str]) -> ReplyTo:
    base = h.get("reply-to-base-url", "")
    if not re.match(r"^https?://[^/?#]+", base):
        raise CallError(MALFORMED_HEADER, f"reply-to-base-url {base[:100]!r} is not an http(s) URL")
    paths = {}
    # The paths are joined to the base URL: they must stay on its host.
    for name in ("reply-to-eligible", "reply-to-not-eligible"):
        path = h.get(name, "")
        if not path.startswith("/") or path.startswith("//"):
            raise CallError(MALFORMED_HEADER, f"{name} {path[:100]!r} is not an absolute path")
        paths[name] = path
    token = h.get("reply-to-token", "")
    if not token:
        raise CallError(MALFORMED_HEADER, "no reply-to-token")
    return ReplyTo(base_url=base, eligible_path=paths["reply-to-eligible"],
                   not_eligible_path=paths["reply-to-not-eligible"], token=token)

"""Test a validator without a gate: calls signed exactly as the gate signs them, and a fake gate that captures
the replies.

    gate = FakeGate()
    call = gate.call(SECRET, email="ada@example.com")       # headers and body as the gate sends them
    client.post("/validate", content=call.body, headers=call.headers)
    assert gate.replies == [CapturedReply("pri_test", "eligible")]

Give your endpoint gate.replier() (or gate.async_replier()): the replies then reach the fake gate, which answers
like the real one (200; 403 for a token it did not issue; the statuses you give it, in turn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from ._reply import AsyncReplier, Replier, ReplyTo

DEFAULT_BASE_URL = "http://gate.test/api/v1"
_POLICY_NAMES = {
    "default_access_policy": "Default Access Policy",
    "default_erasure_policy": "Default Erasure Policy",
    "default_consent_policy": "Default Consent Policy",
    "default_update_policy": "Default Update Policy",
}
# Go's encoding/json escapes these in strings; the gate's bodies are byte-for-byte Go's.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def format_time(t: datetime) -> str:
    """A time as the gate writes it: UTC, microseconds, Z."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def gate_json(value: Any) -> bytes:
    """JSON encoded as the gate encodes it (compact, UTF-8, Go's escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_GO_ESCAPES).encode()


def call_body(privacy_request_id: str, *, email: str | None = None, phone_number: str | None = None,
              policy_action: str = "access", policy_key: str | None = None,
              status: str = "awaiting_pre_approval", external_id: str | None = None,
              requested_at: datetime | None = None, identity_verified_at: datetime | None = None,
              timestamp: datetime | None = None) -> bytes:
    """The body of a pre-approval call, byte for byte as the gate builds it."""
    key = policy_key or f"default_{policy_action}_policy"
    now = datetime.now(timezone.utc)
    return gate_json({
        "privacy_request_id": privacy_request_id,
        "privacy_request_status": status,
        "direction": "two_way",
        "callback_type": "pre_approval",
        "identity": {"email": email, "phone_number": phone_number},
        "policy_action": policy_action,
        "privacy_request": {
            "id": privacy_request_id,
            "status": status,
            "external_id": external_id,
            "requested_at": format_time(requested_at or now),
            "identity_verified_at": format_time(identity_verified_at) if identity_verified_at else None,
            "policy": {"key": key, "name": _POLICY_NAMES.get(key, key), "rules": [{"action_type": policy_action}]},
        },
        "timestamp": format_time(timestamp or now),
    })


def sign(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The webhook-signature entry of one secret: "v1," + base64(HMAC-SHA256(key, id.timestamp.body)),
    computed with the standard library, apart from the verifying code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass(frozen=True)
class SignedCall:
    """A call as the gate sends it: post body with headers to the validator."""

    headers: dict[str, str]
    body: bytes

    @property
    def reply_to(self) -> ReplyTo:
        h = self.headers
        return ReplyTo(h["reply-to-base-url"], h["reply-to-eligible"], h["reply-to-not-eligible"], h["reply-to-token"])


def signed_call(secrets: str | Sequence[str], body: bytes, *, privacy_request_id: str, webhook_key: str = "test",
                token: str = "test-reply-token", base_url: str = DEFAULT_BASE_URL,
                sent_at: int | None = None, headers: dict[str, str] | None = None) -> SignedCall:
    """Signs body as the gate does: one v1 signature per secret (the new and the previous one after a
    rotation), with the gate's reply-to headers. headers are the connection's own (Authorization...)."""
    ts = str(int(time.time()) if sent_at is None else sent_at)
    webhook_id = f"{privacy_request_id}:{webhook_key}"
    eligible = f"/privacy-request/{privacy_request_id}/pre-approve/eligible"
    not_eligible = f"/privacy-request/{privacy_request_id}/pre-approve/not-eligible"
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return SignedCall(headers={
        **(headers or {}),
        "content-type": "application/json",
        "reply-to-eligible": eligible,
        "reply-to-not-eligible": not_eligible,
        "reply-to-approve": eligible,
        "reply-to-deny": not_eligible,
        "reply-to-token": token,
        "reply-to-base-url": base_url,
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": " ".join(sign(s, webhook_id, ts, body) for s in keys),
    }, body=body)


@dataclass(frozen=True)
class CapturedReply:
    """One reply the fake gate accepted."""

    privacy_request_id: str
    decision: str  # "eligible" or "not_eligible"


@dataclass
class FakeGate:
    """The gate's reply routes, in memory. statuses are answered in turn (the last one repeats; None: the
    connection fails), then 200."""

    base_url: str = DEFAULT_BASE_URL
    statuses: Iterable[int | None] = ()
    replies: list[CapturedReply] = field(default_factory=list)
    attempts: int = 0
    _tokens: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._statuses = list(self.statuses)

    def call(self, secrets: str | Sequence[str], privacy_request_id: str = "pri_test", *,
             webhook_key: str = "test", sent_at: int | None = None, **fields: Any) -> SignedCall:
        """A signed call for a new request; fields go to call_body (email=..., policy_action=...)."""
        token = f"reply-token-{privacy_request_id}-{webhook_key}"
        with self._lock:
            self._tokens[token] = privacy_request_id
        return signed_call(secrets, call_body(privacy_request_id, **fields), privacy_request_id=privacy_request_id,
                           webhook_key=webhook_key, token=token, base_url=self.base_url, sent_at=sent_at)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.attempts += 1
            status = self._statuses.pop(0) if self._statuses else 200
            if status is None:
                raise httpx.ConnectError("connection refused (FakeGate)", request=request)
            path = request.url.path.removeprefix(httpx.URL(self.base_url).path)
            parts = path.strip("/").split("/")
            known = (len(parts) == 4 and parts[0] == "privacy-request" and parts[2] == "pre-approve"
                     and parts[3] in ("eligible", "not-eligible") and request.method == "POST")
            if not known:
                return httpx.Response(404, json={"detail": "Not Found"})
            auth = request.headers.get("authorization", "")
            if self._tokens.get(auth.removeprefix("Bearer ")) != parts[1]:
                return httpx.Response(403, json={"detail": "Not Authorized for this action"})
            if status >= 300:
                return httpx.Response(status, json={"detail": f"status {status} from FakeGate"})
            reply = CapturedReply(parts[1], parts[3].replace("-", "_"))
            if reply not in self.replies:
                self.replies.append(reply)
            return httpx.Response(status, json=None)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def replier(self) -> Replier:
        """A Replier that reaches this gate, with waits of a millisecond."""
        return Replier(httpx.Client(transport=self.transport), base_delay=0.001, max_delay=0.001)

    def async_replier(self) -> AsyncReplier:
        """An AsyncReplier that reaches this gate, with waits of a millisecond."""
        return AsyncReplier(httpx.AsyncClient(transport=self.transport), base_delay=0.001, max_delay=0.001)

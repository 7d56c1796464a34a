"""The shared test vectors (validator/testdata/vectors.json; its "about" says how to read them)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from pregate_validator import AsyncReplier, CallError, Decision, Replier, ReplyError, ReplyTo, Verifier, reply_outcome
from pregate_validator.testing import call_body, sign, signed_call

V: dict[str, Any] = json.loads((Path(__file__).parents[2] / "testdata" / "vectors.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::(\d+))?\}")


def test_sections_are_there() -> None:
    for key in ("signatures", "gate_calls", "calls", "replies", "reply_statuses"):
        assert V[key], key


@pytest.mark.parametrize("s", V["signatures"], ids=lambda s: s["name"])
def test_signatures(s: dict[str, Any]) -> None:
    assert sign(s["secret"], s["webhook_id"], s["timestamp"], s["body"].encode()) == s["signature"]


@pytest.mark.parametrize("gc", V["gate_calls"], ids=lambda gc: gc["name"])
def test_testing_kit_makes_the_gate_calls(gc: dict[str, Any]) -> None:
    r = gc["request"]

    def at(s: str | None) -> datetime | None:
        return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00"))

    body = call_body(r["id"], email=r["email"], phone_number=r["phone_number"], policy_action=r["policy_action"],
                     policy_key=r["policy_key"], status=r["status"], external_id=r["external_id"],
                     requested_at=at(r["requested_at"]), identity_verified_at=at(r["identity_verified_at"]),
                     timestamp=at(gc["timestamp"]))
    assert body.decode() == gc["body"]
    call = signed_call([V["secrets"][n] for n in gc["signed_with"]], body, privacy_request_id=r["id"],
                       webhook_key=gc["webhook_key"], token=gc["reply_token"], base_url=gc["base_url"],
                       sent_at=gc["sent_at"])
    assert call.headers == gc["headers"]


def build(vc: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    gc = V["gate_calls"][vc["gate_call"]]
    body = V["bodies"][vc["body"]]
    now = int(time.time()) + vc["timestamp_offset_seconds"]
    ts, webhook_id = str(now), gc["headers"]["webhook-id"]
    headers = {k: v for k, v in gc["headers"].items() if k not in ("webhook-timestamp", "webhook-signature")}
    headers["webhook-timestamp"] = ts

    def signature(m: re.Match[str]) -> str:
        sig = sign(V["secrets"][m[1]], webhook_id, ts, body.encode()).removeprefix("v1,")
        return sig[: int(m[2])] if m[2] else sig

    if vc["signature"] is not None:
        headers["webhook-signature"] = PLACEHOLDER.sub(signature, vc["signature"])
    for k, v in vc.get("headers", {}).items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v.replace("{ts}", ts).replace("{ts-1}", str(now - 1))
    if "tamper" in vc:
        body = body.replace(vc["tamper"]["from"], vc["tamper"]["to"], 1)
    return headers, body.encode()


@pytest.mark.parametrize("vc", V["calls"], ids=lambda vc: vc["name"])
def test_calls(vc: dict[str, Any]) -> None:
    headers, body = build(vc)
    verifier = Verifier(*(V["secrets"][n] for n in vc["verify_with"]))
    if vc["expect"] != "ok":
        with pytest.raises(CallError) as refused:
            verifier.verify(headers, body)
        assert refused.value.kind == vc["expect"]
        return
    c = verifier.verify(headers, body)
    got = {"webhook_id": c.webhook_id, "privacy_request_id": c.privacy_request_id,
           "privacy_request_status": c.privacy_request_status, "email": c.identity.email,
           "phone_number": c.identity.phone_number, "policy_action": c.policy_action,
           "policy_key": c.privacy_request.policy.key, "external_id": c.privacy_request.external_id,
           "eligible_url": c.reply_to.url(Decision.ELIGIBLE), "not_eligible_url": c.reply_to.url(Decision.NOT_ELIGIBLE),
           "reply_token": c.reply_to.token}
    assert got == vc["call"]
    assert c.sent_at == datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)


class Recorder:
    """A transport answering each request with the next status (the last repeats; None: no connection)."""

    def __init__(self, *statuses: int | None) -> None:
        self.statuses, self.sent = list(statuses), list[httpx.Request]()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        status = self.statuses[min(len(self.sent), len(self.statuses)) - 1]
        if status is None:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json=None)


def reply_to_of(v: dict[str, str]) -> ReplyTo:
    return ReplyTo(v["base_url"], v["eligible"], v["not_eligible"], v["token"])


@pytest.mark.parametrize("vr", V["replies"], ids=lambda vr: vr["name"])
def test_replies_sync_and_async(vr: dict[str, Any]) -> None:
    want = vr["request"]
    sync, asyn = Recorder(200), Recorder(200)
    to, decision = reply_to_of(vr["reply_to"]), Decision(vr["decision"])
    Replier(httpx.Client(transport=httpx.MockTransport(sync))).reply(to, decision)
    asyncio.run(AsyncReplier(httpx.AsyncClient(transport=httpx.MockTransport(asyn))).reply(to, decision))
    for rec in (sync, asyn):
        assert len(rec.sent) == 1
        got = rec.sent[0]
        assert (got.method, str(got.url), got.content.decode()) == (want["method"], want["url"], want["body"])
        for k, v in want["headers"].items():
            assert got.headers[k] == v


@pytest.mark.parametrize("vs", V["reply_statuses"], ids=lambda vs: str(vs["status"]))
def test_reply_statuses(vs: dict[str, Any]) -> None:
    """Each status is answered once, then 200: retried, it takes a second attempt; final, it is the error."""
    assert reply_outcome(vs["status"]) == vs["outcome"]
    to = ReplyTo("https://gate.example/api/v1", "/e", "/n", "t")

    def outcome(rec: Recorder, send: Any) -> str:
        try:
            send()
        except ReplyError as e:
            assert e.status_code == vs["status"]
            return "final" if len(rec.sent) == 1 else f"{len(rec.sent)} attempts then {e}"
        return {1: "accepted", 2: "retry"}.get(len(rec.sent), f"{len(rec.sent)} attempts")

    sync, asyn = Recorder(vs["status"], 200), Recorder(vs["status"], 200)
    r = Replier(httpx.Client(transport=httpx.MockTransport(sync)), base_delay=0.001, max_delay=0.001)
    assert outcome(sync, lambda: r.reply(to, Decision.ELIGIBLE)) == vs["outcome"]
    a = AsyncReplier(httpx.AsyncClient(transport=httpx.MockTransport(asyn)), base_delay=0.001, max_delay=0.001)
    assert outcome(asyn, lambda: asyncio.run(a.reply(to, Decision.ELIGIBLE))) == vs["outcome"]

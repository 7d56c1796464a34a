"""The FastAPI/Starlette and Flask adapters, driven through the testing kit as a validator author would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from pregate_validator import Call, Decide, Decision, Verifier
from pregate_validator.fastapi import endpoint
from pregate_validator.flask import view
from pregate_validator.testing import CapturedReply, FakeGate

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def deny_list(call: Call) -> Decision:
    return Decision.NOT_ELIGIBLE if call.identity.email == "blocked@example.com" else Decision.ELIGIBLE


async def deny_list_async(call: Call) -> Decision:
    return deny_list(call)


Post = Callable[..., int]


def fastapi_app(gate: FakeGate, sync: bool, decide: Decide = deny_list_async) -> Post:
    app = FastAPI()
    app.add_api_route("/validate", endpoint(Verifier(SECRET, OLD_SECRET), decide, replier=gate.async_replier(),
                                            sync=sync), methods=["POST"])
    client = TestClient(app)
    return lambda body, headers: client.post("/validate", content=body, headers=headers).status_code


def flask_app(gate: FakeGate, sync: bool, decide: Decide = deny_list) -> Post:
    app = Flask("validator")
    app.add_url_rule("/validate", view_func=view(Verifier(SECRET, OLD_SECRET), decide, replier=gate.replier(),
                                                 sync=sync), methods=["POST"])
    client = app.test_client()
    return lambda body, headers: client.post("/validate", data=body, headers=headers).status_code


APPS = {"fastapi": fastapi_app, "flask": flask_app}


def wait_for(cond: Callable[[], bool]) -> None:
    """The background answer (Flask's thread) lands shortly after the 202."""
    deadline = time.monotonic() + 5
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("sync", [False, True])
def test_answers_eligible_and_not_eligible(app: str, sync: bool) -> None:
    gate = FakeGate()
    post = APPS[app](gate, sync)
    ada = gate.call(SECRET, "pri_1", email="ada@example.com")
    blocked = gate.call(SECRET, "pri_2", email="blocked@example.com")
    assert post(ada.body, ada.headers) == (200 if sync else 202)
    assert post(blocked.body, blocked.headers) == (200 if sync else 202)
    wait_for(lambda: len(gate.replies) == 2)
    assert gate.replies == [CapturedReply("pri_1", "eligible"), CapturedReply("pri_2", "not_eligible")]


@pytest.mark.parametrize("app", APPS)
def test_rotation_and_refusals(app: str) -> None:
    gate = FakeGate()
    post = APPS[app](gate, True)
    rotated = gate.call([SECRET, OLD_SECRET], "pri_1")
    assert post(rotated.body, rotated.headers) == 200
    old_only = gate.call(OLD_SECRET, "pri_2")
    assert post(old_only.body, old_only.headers) == 200
    stranger = gate.call("whsec_" + "A" * 43 + "=", "pri_3")
    assert post(stranger.body, stranger.headers) == 401
    stale = gate.call(SECRET, "pri_4", sent_at=int(time.time()) - 600)
    assert post(stale.body, stale.headers) == 401
    good = gate.call(SECRET, "pri_5")
    assert post(good.body + b" ", good.headers) == 401
    assert post(b"{}", {**good.headers, "webhook-signature": "v1,x"}) == 401
    assert gate.replies == [CapturedReply("pri_1", "eligible"), CapturedReply("pri_2", "eligible")]


@pytest.mark.parametrize("app", APPS)
def test_sync_reports_a_failed_answer(app: str) -> None:
    """A final refusal of the reply (403) and a failing decide both answer the call 500, so the gate retries."""
    gate = FakeGate(statuses=[403])
    post = APPS[app](gate, True)
    call = gate.call(SECRET, "pri_1")
    assert post(call.body, call.headers) == 500
    assert gate.attempts == 1 and gate.replies == []

    def broken(_: Call) -> Decision:
        raise RuntimeError("CRM down")

    post = APPS[app](FakeGate(), True, broken)
    assert post(call.body, call.headers) == 500


@pytest.mark.parametrize("app", APPS)
def test_retries_until_the_gate_accepts(app: str) -> None:
    gate = FakeGate(statuses=[503, None, 429])
    post = APPS[app](gate, True)
    call = gate.call(SECRET, "pri_1")
    assert post(call.body, call.headers) == 200
    assert gate.attempts == 4 and gate.replies == [CapturedReply("pri_1", "eligible")]


@pytest.mark.parametrize("app", APPS)
def test_later_sends_nothing(app: str) -> None:
    kept: list[Call] = []
    done = threading.Event()

    def later(call: Call) -> Decision:
        kept.append(call)
        done.set()
        return Decision.LATER

    gate = FakeGate()
    post = APPS[app](gate, False, later)
    call = gate.call(SECRET, "pri_1")
    assert post(call.body, call.headers) == 202
    assert done.wait(5)
    assert gate.replies == []
    gate.replier().reply(kept[0].reply_to, Decision.NOT_ELIGIBLE)
    assert gate.replies == [CapturedReply("pri_1", "not_eligible")]


def test_fake_gate_refuses_a_token_it_did_not_issue() -> None:
    gate = FakeGate()
    call = gate.call(SECRET, "pri_1")
    other = gate.call(SECRET, "pri_2")
    forged = type(call.reply_to)(call.reply_to.base_url, call.reply_to.eligible_path, call.reply_to.not_eligible_path,
                                 other.reply_to.token)
    with pytest.raises(Exception, match="HTTP 403"):
        gate.replier().reply(forged, Decision.ELIGIBLE)

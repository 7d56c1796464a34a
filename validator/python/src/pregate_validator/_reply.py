"""Sending a validator's answer back to the gate, with the retry rules."""

from __future__ import annotations

import asyncio
import enum
import random
import time
from dataclasses import dataclass
from typing import Literal

import httpx

DEFAULT_ATTEMPTS = 5
DEFAULT_TIMEOUT = 10.0  # seconds, per attempt
DEFAULT_BASE_DELAY = 0.5  # seconds before the second attempt, doubled each time
DEFAULT_MAX_DELAY = 30.0

_MAX_ERROR_BODY = 4 << 10


class Decision(str, enum.Enum):
    """A validator's answer."""

    #: Lets the request go on: once every webhook of the request has answered eligible, the gate approves it.
    ELIGIBLE = "eligible"
    #: Flags the request for manual review by an admin (it is not denied).
    NOT_ELIGIBLE = "not_eligible"
    #: Returned by a decide function to acknowledge the call without answering: it kept Call.reply_to to
    #: answer later with a Replier, within the token's lifetime.
    LATER = "later"


@dataclass(frozen=True)
class ReplyTo:
    """Where and how to answer one call: its reply-to headers."""

    base_url: str  # reply-to-base-url, the API base ending in /api/v1
    eligible_path: str
    not_eligible_path: str
    token: str  # sent as a Bearer credential; never log it

    def url(self, decision: Decision) -> str:
        if decision is Decision.ELIGIBLE:
            path = self.eligible_path
        elif decision is Decision.NOT_ELIGIBLE:
            path = self.not_eligible_path
        else:
            raise ValueError(f"pregate_validator: {decision.value} is not an answer to send")
        return self.base_url.rstrip("/") + path

    def __repr__(self) -> str:  # keeps the token out of logs
        return f"ReplyTo(base_url={self.base_url!r}, eligible_path={self.eligible_path!r}, ...)"


Outcome = Literal["accepted", "retry", "final"]


def reply_outcome(status_code: int | None) -> Outcome:
    """What a reply helper does with the gate's response: a 2xx is accepted (answering the same again is a 2xx
    too, so a retry after a lost response is safe); no response (None), 429 and 5xx are retried; any other
    status is final (the gate explains it in "detail": 400 when an admin decided first, 403 when the token
    has expired...)."""
    if status_code is None or status_code == 429 or status_code >= 500:
        return "retry"
    if 200 <= status_code < 300:
        return "accepted"
    return "final"


class ReplyError(Exception):
    """A reply the gate did not accept."""

    def __init__(self, decision: Decision, attempts: int, status_code: int | None, detail: str | None,
                 body: str, error: Exception | None) -> None:
        msg = f"pregate_validator: reply {decision.value} failed after {attempts} attempt(s)"
        if status_code is not None:
            msg += f": HTTP {status_code}" + (f": {detail}" if detail else "")
        if error is not None:
            msg += f": {error}"
        super().__init__(msg)
        self.decision, self.attempts = decision, attempts
        self.status_code, self.detail, self.body, self.error = status_code, detail, body, error


@dataclass
class _Attempts:
    """The retry schedule and the last failure of one reply."""

    decision: Decision
    max_attempts: int
    base_delay: float
    max_delay: float
    made: int = 0
    status_code: int | None = None
    detail: str | None = None
    body: str = ""
    error: Exception | None = None

    def record(self, response: httpx.Response | None, error: Exception | None) -> Outcome:
        self.made += 1
        self.error = error
        if response is None:
            self.status_code, self.detail, self.body = None, None, ""
            return "retry"
        outcome = reply_outcome(response.status_code)
        if outcome != "accepted":
            self.status_code, self.body = response.status_code, response.text[:_MAX_ERROR_BODY]
            try:
                detail = response.json().get("detail")
            except (ValueError, AttributeError):
                detail = None
            self.detail = detail if isinstance(detail, str) else None
        return outcome

    def after(self, response: httpx.Response | None, error: Exception | None) -> float | None:
        """Records one attempt; returns None once accepted, else the wait before the next attempt: base·2^(n-1)
        after the n-th failure, capped, then a random point in its upper half, so validators that failed
        together do not retry together. Raises ReplyError when the failure is final or attempts run out."""
        outcome = self.record(response, error)
        if outcome == "accepted":
            return None
        if outcome == "final" or self.made >= self.max_attempts:
            raise ReplyError(self.decision, self.made, self.status_code, self.detail, self.body, self.error)
        d = min(self.base_delay * 2.0 ** (self.made - 1), self.max_delay)
        return d / 2 + random.uniform(0, d / 2)


def _headers(token: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


class Replier:
    """Sends answers, retrying no response, 429 and 5xx with exponential backoff and jitter, at most
    max_attempts times in all; any other non-2xx is final. Pass an httpx.Client to reuse connections
    (or to send through a test transport)."""

    def __init__(self, client: httpx.Client | None = None, *, max_attempts: int = DEFAULT_ATTEMPTS,
                 base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.client, self.timeout = client, timeout
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay

    def reply(self, reply_to: ReplyTo, decision: Decision) -> None:
        """POST the decision to its reply URL with the token; raises ReplyError when the gate did not accept it."""
        url = reply_to.url(decision)
        tries = _Attempts(decision, self.max_attempts, self.base_delay, self.max_delay)
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            while True:
                response, error = None, None
                try:
                    response = client.post(url, content=b"{}", headers=_headers(reply_to.token))
                except httpx.TransportError as e:
                    error = e
                wait = tries.after(response, error)
                if wait is None:
                    return
                time.sleep(wait)
        finally:
            if self.client is None:
                client.close()


class AsyncReplier:
    """Replier for asyncio code, with an httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient | None = None, *, max_attempts: int = DEFAULT_ATTEMPTS,
                 base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.client, self.timeout = client, timeout
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay

    async def reply(self, reply_to: ReplyTo, decision: Decision) -> None:
        """As Replier.reply."""
        url = reply_to.url(decision)
        tries = _Attempts(decision, self.max_attempts, self.base_delay, self.max_delay)
        client = self.client or httpx.AsyncClient(timeout=self.timeout)
        try:
            while True:
                response, error = None, None
                try:
                    response = await client.post(url, content=b"{}", headers=_headers(reply_to.token))
                except httpx.TransportError as e:
                    error = e
                wait = tries.after(response, error)
                if wait is None:
                    return
                await asyncio.sleep(wait)
        finally:
            if self.client is None:
                await client.aclose()

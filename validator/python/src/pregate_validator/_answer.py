"""Deciding and replying for one call, shared by the framework adapters."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

from ._call import Call
from ._reply import AsyncReplier, Decision, Replier

#: A decision function: given a checked call, Decision.ELIGIBLE, NOT_ELIGIBLE or LATER (async too with the
#: FastAPI/Starlette adapter). An exception sends no answer.
Decide = Callable[[Call], Decision | Awaitable[Decision]]

log = logging.getLogger("pregate_validator")


def answer(call: Call, decide: Decide, replier: Replier) -> Decision:
    """Decides and replies; raises what decide or the reply raised."""
    decision = decide(call)
    if inspect.isawaitable(decision):
        raise TypeError("pregate_validator: an async decide function needs the FastAPI/Starlette adapter")
    if decision is not Decision.LATER:
        replier.reply(call.reply_to, decision)
    _log_sent(call, decision)
    return decision


async def answer_async(call: Call, decide: Decide, replier: AsyncReplier) -> Decision:
    """answer for asyncio code; decide may be sync or async."""
    decision = decide(call)
    if inspect.isawaitable(decision):
        decision = await decision
    if decision is not Decision.LATER:
        await replier.reply(call.reply_to, decision)
    _log_sent(call, decision)
    return decision


def _log_sent(call: Call, decision: Decision) -> None:
    log.info("pre-approval call answered: %s", decision.value,
             extra={"privacy_request_id": call.privacy_request_id, "webhook_id": call.webhook_id})


def log_failure(call: Call, error: Exception) -> None:
    """Logs a failed decision or reply: the gate gets no answer for this call."""
    log.error("pre-approval call not answered: %s", error,
              extra={"privacy_request_id": call.privacy_request_id, "webhook_id": call.webhook_id})


def log_refusal(error: Exception) -> None:
    log.warning("refused a pre-approval call: %s", error)

"""An endpoint for FastAPI and Starlette (pip install 'pregate-validator[fastapi]').

    app.add_api_route("/validate", endpoint(Verifier(secret), decide), methods=["POST"])   # FastAPI
    Route("/validate", endpoint(Verifier(secret), decide), methods=["POST"])               # Starlette
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ._answer import Decide, answer_async, log_failure, log_refusal
from ._call import Call, CallError, Verifier
from ._reply import AsyncReplier, Decision


def endpoint(verifier: Verifier, decide: Decide, *, replier: AsyncReplier | None = None,
             sync: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Serves pre-approval calls: checks each call, asks decide (sync or async), and replies.

    By default a good call is acknowledged with 202 at once, and decide and the reply run after the response
    (a Starlette background task), so a slow check never makes the gate's call time out. With sync=True the
    answer is sent first: 200 once accepted (202 for Decision.LATER), 500 when decide or the reply failed, so
    the gate retries the call. A refused call gets 401 (signature, timestamp), 400 (malformed) or 413.
    """
    send = replier or AsyncReplier()

    async def run(call: Call) -> Decision | None:
        try:
            return await answer_async(call, decide, send)
        except Exception as e:
            log_failure(call, e)
            return None

    async def handle(request: Request) -> Response:
        try:
            call = verifier.verify(request.headers, await request.body())
        except CallError as e:
            log_refusal(e)
            return PlainTextResponse(e.kind, status_code=e.status_code)
        if not sync:
            return Response(status_code=202, background=BackgroundTask(run, call))
        decision = await run(call)
        if decision is None:
            return PlainTextResponse("could not answer", status_code=500)
        return Response(status_code=202 if decision is Decision.LATER else 200)

    return handle

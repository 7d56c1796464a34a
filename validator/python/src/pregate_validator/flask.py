"""A view for Flask (pip install 'pregate-validator[flask]').

    app.add_url_rule("/validate", view_func=view(Verifier(secret), decide), methods=["POST"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Response, request

from ._answer import Decide, answer, log_failure, log_refusal
from ._call import Call, CallError, Verifier
from ._reply import Decision, Replier


def view(verifier: Verifier, decide: Decide, *, replier: Replier | None = None,
         sync: bool = False) -> Callable[[], Response]:
    """Serves pre-approval calls: checks each call, asks decide, and replies.

    By default a good call is acknowledged with 202 at once, and decide and the reply run in a thread, so a
    slow check never makes the gate's call time out. With sync=True the answer is sent first: 200 once
    accepted (202 for Decision.LATER), 500 when decide or the reply failed, so the gate retries the call.
    A refused call gets 401 (signature, timestamp), 400 (malformed) or 413.
    """
    send = replier or Replier()

    def run(call: Call) -> Decision | None:
        try:
            return answer(call, decide, send)
        except Exception as e:
            log_failure(call, e)
            return None

    def handle() -> Response:
        try:
            call = verifier.verify(dict(request.headers), request.get_data())
        except CallError as e:
            log_refusal(e)
            return Response(e.kind, status=e.status_code, mimetype="text/plain")
        if not sync:
            threading.Thread(target=run, args=(call,), name="pregate-answer").start()
            return Response(status=202)
        decision = run(call)
        if decision is None:
            return Response("could not answer", status=500, mimetype="text/plain")
        return Response(status=202 if decision is Decision.LATER else 200)

    return handle

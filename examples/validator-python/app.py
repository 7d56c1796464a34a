"""An example pre-approval validator on FastAPI with pregate-validator: it checks each call's signature,
acknowledges it with 202, and answers through reply-to-base-url with the reply token: eligible, unless the
subject's email is on its deny list.

    WEBHOOK_SIGNING_SECRET=whsec_... python app.py --port 8099 --deny blocked@example.com

During a secret rotation, give the new and the old secret, comma-separated.
"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn
from fastapi import FastAPI

from pregate_validator import Call, Decision, Verifier
from pregate_validator.fastapi import endpoint


def make_app(secrets: list[str], deny: set[str]) -> FastAPI:
    def decide(call: Call) -> Decision:
        if (call.identity.email or "").lower() in deny:
            return Decision.NOT_ELIGIBLE  # flagged for manual review
        return Decision.ELIGIBLE

    app = FastAPI(title="pregate example validator")
    app.add_api_route("/validate", endpoint(Verifier(*secrets), decide), methods=["POST"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8099")))
    parser.add_argument("--deny", default=os.environ.get("DENY", ""),
                        help="comma-separated emails to answer not eligible")
    args = parser.parse_args()
    secrets = [s for s in os.environ.get("WEBHOOK_SIGNING_SECRET", "").split(",") if s]
    if not secrets:
        parser.error("set WEBHOOK_SIGNING_SECRET to the webhook's signing secret (whsec_...)")
    deny = {e.strip().lower() for e in args.deny.split(",") if e.strip()}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(make_app(secrets, deny), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""The campaign's webhook subscriber: takes cutru's events, checks each Standard Webhooks signature, and journals the
ids it took (fsync'ed before it answers 204), so that a SIGKILL loses nothing it acknowledged.

    CHAOS_WEBHOOK_SECRET=whsec_… python -m chaos.subscriber --port 8130 --journal subscriber.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from aiohttp import web

from domain import webhooks

SECRET_ENV = "CHAOS_WEBHOOK_SECRET"


def app(secret: str, journal: Path) -> web.Application:
    async def take(request: web.Request) -> web.Response:
        body = await request.read()
        if not webhooks.verify(secret, dict(request.headers), body, int(time.time())):
            return web.Response(status=401)
        event = json.loads(body)
        with journal.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"id": request.headers["webhook-id"], "sequence": event["sequence"]}) + "\n")
            file.flush()
            os.fsync(file.fileno())
        return web.Response(status=204)

    application = web.Application()
    application.router.add_post("/events", take)
    return application


def taken(journal: Path) -> set[str]:
    """The event ids the subscriber acknowledged (a line cut short by a kill was never acknowledged)."""
    ids: set[str] = set()
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError):
                continue
    return ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        parser.error(f"set {SECRET_ENV}")
    web.run_app(app(secret, args.journal), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()

"""The local carriers: an SMS brandname gateway and a postal service, each a separate HTTP process speaking the shape
cutru's adapters speak (``activities.channels.HttpSmsGateway``, ``activities.postal.HttpPostalService``).

    python -m cutru_local.carriers sms --port 8110 --journal .cutru/sms.jsonl
    python -m cutru_local.carriers postal --port 8120 --journal .cutru/postal.jsonl

The SMS gateway sends nothing: it records what it would send (``GET /messages`` lists it), answers ``CodeResult``
100 with an ``SMSID``, 101 for a wrong ``ApiKey``/``SecretKey``, 118 for a number that is no Vietnamese mobile
number, and 124 (with the first ``SMSID``) for a ``RequestId`` it has seen: it never sends one twice.

The postal service creates one order per ``OrderCode`` (a repeated request returns the first ``ItemCode``, an S10
tracking number) and lets each item move on by itself: in transit after ``--transit`` seconds, delivered after
``--deliver`` (``GET /orders`` lists them). Requests without the right ``Token`` header get 401.

Credentials default to the variables cutru's worker reads (CUTRU_SMS_API_KEY, CUTRU_SMS_SECRET_KEY,
CUTRU_POSTAL_TOKEN). State is an append-only journal, fsync'ed before each answer and read back at start: a restarted
carrier remembers what it sent. Each prints ``<carrier> on http://HOST:PORT`` on stderr once it accepts connections.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.channels import SMS_DUPLICATE_REQUEST, SMS_INVALID_PHONE, SMS_PATH, SMS_SENT
from activities.postal import ORDERS_PATH

SMS_AUTH_FAILED = "101"
_MOBILE = re.compile(r"^(0|\+84)[35789][0-9]{8}$")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


class Journal:
    """Records appended to one file, each line a JSON object; read back at start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the last line of a write the process did not finish: that answer was never given

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
        self.records.append(record)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)


def sms_app(journal: Journal, api_key: str, secret_key: str) -> FastAPI:
    app = FastAPI(title="local SMS brandname gateway")

    @app.post(SMS_PATH)
    async def send(request: Request) -> JSONResponse:
        body = await request.json()
        if not isinstance(body, dict) or body.get("ApiKey") != api_key or body.get("SecretKey") != secret_key:
            return JSONResponse({"CodeResult": SMS_AUTH_FAILED, "ErrorMessage": "Sai ApiKey hoặc SecretKey"})
        if not _MOBILE.match(str(body.get("Phone", ""))):
            return JSONResponse({"CodeResult": SMS_INVALID_PHONE, "ErrorMessage": "Số điện thoại không hợp lệ"})
        request_id = str(body.get("RequestId", ""))
        seen = next((r for r in journal if request_id and r["request_id"] == request_id), None)
        if seen is not None:
            return JSONResponse({"CodeResult": SMS_DUPLICATE_REQUEST, "SMSID": seen["sms_id"]})
        record = {"request_id": request_id, "sms_id": secrets.token_hex(8), "phone": body["Phone"],
                  "brandname": body.get("Brandname"), "content": str(body.get("Content", "")),
                  "at": datetime.now(UTC).isoformat()}
        journal.append(record)
        return JSONResponse({"CodeResult": SMS_SENT, "SMSID": record["sms_id"], "CountRegenerate": 0})

    @app.get("/messages")
    async def messages() -> list[dict[str, Any]]:
        return list(journal)

    return app


def s10(serial: int, prefix: str = "EB", country: str = "VN") -> str:
    """A UPU S10 item identifier: two letters, eight digits, their check digit, the country."""
    digits = f"{serial:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _S10_WEIGHTS, strict=True)) % 11
    return f"{prefix}{digits}{ {10: 0, 11: 5}.get(check, check)}{country}"


def postal_app(journal: Journal, token: str, transit: timedelta, deliver: timedelta) -> FastAPI:
    app = FastAPI(title="local postal service")

    def authorised(request: Request) -> bool:
        return secrets.compare_digest(request.headers.get("Token", ""), token)

    def order(item_code: str) -> dict[str, Any] | None:
        return next((r for r in journal if r["ItemCode"] == item_code), None)

    @app.post(ORDERS_PATH)
    async def create(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"Message": "Token không hợp lệ"}, status_code=401)
        body = await request.json()
        code = body.get("OrderCode") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code or not body.get("ReceiverAddress"):
            return JSONResponse({"Message": "Thiếu OrderCode hoặc ReceiverAddress"}, status_code=400)
        existing = next((r for r in journal if r["OrderCode"] == code), None)
        if existing is None:
            existing = {"OrderCode": code, "ItemCode": s10(len(journal.records) + secrets.randbelow(10**6) * 100),
                        "ReceiverName": body.get("ReceiverName"), "ReceiverAddress": body["ReceiverAddress"],
                        "CreatedAt": datetime.now(UTC).isoformat()}
            journal.append(existing)
        return JSONResponse({"OrderCode": code, "ItemCode": existing["ItemCode"], "Status": "accepted"})

    @app.get(ORDERS_PATH + "/{item_code}/tracking")
    async def tracking(item_code: str, request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"Message": "Token không hợp lệ"}, status_code=401)
        found = order(item_code)
        if found is None:
            return JSONResponse({"Message": "Không tìm thấy bưu gửi"}, status_code=404)
        created = datetime.fromisoformat(found["CreatedAt"])
        steps = [("accepted", created), ("in_transit", created + transit), ("delivered", created + deliver)]
        now = datetime.now(UTC)
        return JSONResponse({"ItemCode": item_code, "Events": [
            {"Status": status, "Time": at.isoformat()} for status, at in steps if at <= now]})

    @app.get("/orders")
    async def orders() -> list[dict[str, Any]]:
        return list(journal)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("carrier", choices=("sms", "postal"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0: any free port (the address is printed)")
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--transit", type=float, default=2.0, help="postal: seconds until an item is in transit")
    parser.add_argument("--deliver", type=float, default=5.0, help="postal: seconds until an item is delivered")
    args = parser.parse_args(argv)
    journal = Journal(args.journal)
    if args.carrier == "sms":
        api_key, secret_key = os.environ.get("CUTRU_SMS_API_KEY"), os.environ.get("CUTRU_SMS_SECRET_KEY")
        if not api_key or not secret_key:
            parser.error("set CUTRU_SMS_API_KEY and CUTRU_SMS_SECRET_KEY")
        app = sms_app(journal, api_key, secret_key)
    else:
        token = os.environ.get("CUTRU_POSTAL_TOKEN")
        if not token:
            parser.error("set CUTRU_POSTAL_TOKEN")
        app = postal_app(journal, token, timedelta(seconds=args.transit), timedelta(seconds=args.deliver))
    listener = socket.create_server((args.host, args.port))
    host, port = listener.getsockname()[:2]
    print(f"{args.carrier} on http://{host}:{port}", file=sys.stderr, flush=True)
    uvicorn.run(app, fd=listener.fileno(), log_level="warning")


if __name__ == "__main__":
    main()

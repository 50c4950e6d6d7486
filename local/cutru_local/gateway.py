"""The local payment gateway: a separate HTTP process speaking VNPAY 2.1.0's protocol (``domain.payment_protocol``).

It stands for the real gateway in the local stack, the demo and the tests, and serves what cutru meets of one:

- ``GET /paymentv2/vpcpay.html?vnp_...&vnp_SecureHash=...``: the payment page of a signed payment URL (the order's
  amount and description, a "pay" and a "cancel" button);
- ``POST /paymentv2/pay`` (the page's form): pays (or cancels), redirects the browser to the order's
  ``vnp_ReturnUrl`` with the signed result, and sends the same result to cutru's IPN URL, again and again with a
  growing pause until cutru acknowledges it (any ``RspCode`` but 99);
- ``POST /merchant_webapi/api/transaction`` (``vnp_Command=querydr``): the signed query API;
- ``GET /health``.

Its state (transactions, IPNs not yet acknowledged) is an append-only journal file, fsync'ed before each answer and
read back at start: a restarted gateway knows every payment and resumes the IPNs it still owes.

    python -m cutru_local.gateway --port 8100 --ipn-url http://127.0.0.1:8000/v1/payments/vnpay/ipn \\
        [--host 127.0.0.1] [--state-file .cutru/payment-gateway.jsonl] [--tmn-code CODE] [--secret SECRET]

It prints ``payment gateway on http://HOST:PORT/paymentv2/vpcpay.html`` on stderr once it accepts connections.
The merchant code and secret default to CUTRU_PAYMENT_TMN_CODE and CUTRU_PAYMENT_HASH_SECRET (the variables the
worker and the API read), so the secret need not appear on a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from activities.payment import LOCAL_PAY_ACTION as PAY_ACTION
from activities.payment import QUERY_PATH as QUERY_API
from domain import payment_protocol as vnp

PAY_PAGE = "/paymentv2/vpcpay.html"
TRANSACTION_NO_LOW = 10**13  # vnp_TransactionNo: 14 digits
# The answers after which an IPN is not sent again: every one the protocol defines but "unknown error".
ACKNOWLEDGING = frozenset(vnp.IPN_MESSAGES) - {vnp.RSP_UNKNOWN_ERROR}
RETRY_FIRST = 0.2
RETRY_MAX = 30.0
BANK_CODE = "NCB"


class Transaction(BaseModel):
    """One attempt to pay an order: paid, or cancelled by the customer."""

    model_config = ConfigDict(frozen=True)

    result: vnp.PaymentResult
    create_date: str  # the order's vnp_CreateDate: the query API finds a transaction by it and vnp_TxnRef
    return_url: str


class Journal:
    """The gateway's state: every transaction, and which IPNs cutru acknowledged, appended to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.transactions: dict[str, Transaction] = {}  # by vnp_TransactionNo
        self.acknowledged: set[str] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the last line of a write the process did not finish: that answer was never given
                if record["event"] == "transaction":
                    transaction = Transaction.model_validate(record["transaction"])
                    self.transactions[transaction.result.transaction_no] = transaction
                elif record["event"] == "acknowledged":
                    self.acknowledged.add(record["transaction_no"])
        path.parent.mkdir(parents=True, exist_ok=True)

    def next_transaction_no(self) -> str:
        # Random, not counted: a gateway started on a fresh journal must not reuse a number cutru already recorded
        # (it would take a new payment for a replay).
        while True:
            number = str(TRANSACTION_NO_LOW + secrets.randbelow(TRANSACTION_NO_LOW * 9))
            if number not in self.transactions:
                return number

    def of_order(self, txn_ref: str) -> list[Transaction]:
        return [t for t in self.transactions.values() if t.result.txn_ref == txn_ref]

    def paid(self, txn_ref: str) -> Transaction | None:
        return next((t for t in self.of_order(txn_ref) if t.result.succeeded), None)

    def add(self, transaction: Transaction) -> None:
        self._append({"event": "transaction", "transaction": transaction.model_dump(mode="json")})
        self.transactions[transaction.result.transaction_no] = transaction

    def acknowledge(self, transaction_no: str) -> None:
        self._append({"event": "acknowledged", "transaction_no": transaction_no})
        self.acknowledged.add(transaction_no)

    def unacknowledged(self) -> list[Transaction]:
        return [t for n, t in self.transactions.items() if n not in self.acknowledged]

    def _append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())


class Merchant(BaseModel):
    """The one merchant (cutru) this gateway serves."""

    model_config = ConfigDict(frozen=True)

    tmn_code: str
    secret: str
    ipn_url: str


class Gateway:
    def __init__(self, merchant: Merchant, journal: Journal) -> None:
        self.merchant = merchant
        self.journal = journal
        self._ipns: dict[str, asyncio.Task[None]] = {}
        self._http = httpx.AsyncClient(timeout=10.0)

    def start(self) -> None:
        for transaction in self.journal.unacknowledged():
            self._send_ipn(transaction)

    async def stop(self) -> None:
        for task in self._ipns.values():
            task.cancel()
        for task in self._ipns.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()

    def order(self, params: Mapping[str, str]) -> vnp.PayRequest:
        """The order a signed payment URL carries; ValueError when it is not this merchant's, or expired."""
        if not vnp.params_signed(params, self.merchant.secret):
            raise ValueError("Chữ ký không hợp lệ (vnp_SecureHash)")
        request = vnp.PayRequest.parse(params)
        if request.tmn_code != self.merchant.tmn_code:
            raise ValueError(f"Mã website {request.tmn_code} không được cấu hình")
        return request

    def pay(self, request: vnp.PayRequest, *, cancel: bool) -> Transaction:
        """Pays the order once: paying a paid order again gives its transaction back."""
        paid = self.journal.paid(request.txn_ref)
        if paid is not None:
            return paid
        if datetime.now(UTC) > request.expires_at:
            raise ValueError("Giao dịch đã quá thời gian chờ thanh toán")
        code = vnp.CUSTOMER_CANCELLED if cancel else vnp.PAID
        transaction = Transaction(
            result=vnp.PaymentResult(
                tmn_code=request.tmn_code, amount_vnd=request.amount_vnd, txn_ref=request.txn_ref,
                transaction_no=self.journal.next_transaction_no(), response_code=code,
                transaction_status="02" if cancel else vnp.PAID, pay_date=datetime.now(UTC).replace(microsecond=0),
                order_info=request.order_info, bank_code=BANK_CODE),
            create_date=vnp.format_time(request.created_at), return_url=request.return_url)
        self.journal.add(transaction)
        self._send_ipn(transaction)
        return transaction

    def query(self, body: Mapping[str, Any]) -> dict[str, str]:
        values = {k: str(v) for k, v in body.items()}
        answer = {"vnp_ResponseId": values.get("vnp_RequestId", ""), "vnp_Command": vnp.QUERY_COMMAND,
                  "vnp_TmnCode": self.merchant.tmn_code, "vnp_TxnRef": values.get("vnp_TxnRef", "")}
        if not vnp.fields_signed(values, vnp.QUERY_REQUEST_FIELDS, self.merchant.secret):
            return vnp.query_response(answer | {"vnp_ResponseCode": vnp.QUERY_INVALID_SIGNATURE,
                                                "vnp_Message": "Invalid checksum"}, self.merchant.secret)
        if values.get("vnp_Command") != vnp.QUERY_COMMAND or values.get("vnp_TmnCode") != self.merchant.tmn_code:
            return vnp.query_response(answer | {"vnp_ResponseCode": vnp.QUERY_INVALID_DATA,
                                                "vnp_Message": "Invalid request"}, self.merchant.secret)
        found = [t for t in self.journal.of_order(values.get("vnp_TxnRef", ""))
                 if t.create_date == values.get("vnp_TransactionDate")]
        if not found:
            return vnp.query_response(answer | {"vnp_ResponseCode": vnp.QUERY_NOT_FOUND,
                                                "vnp_Message": "Transaction not found"}, self.merchant.secret)
        transaction = next((t for t in found if t.result.succeeded), found[-1])
        return vnp.query_response(answer | transaction.result.params() | {
            "vnp_ResponseCode": vnp.QUERY_FOUND, "vnp_Message": "QueryDR Success", "vnp_TransactionType": "01",
            "vnp_TransactionStatus": transaction.result.transaction_status}, self.merchant.secret)

    def _send_ipn(self, transaction: Transaction) -> None:
        number = transaction.result.transaction_no
        if number not in self._ipns:
            self._ipns[number] = asyncio.create_task(self._deliver(transaction))

    async def _deliver(self, transaction: Transaction) -> None:
        params = transaction.result.signed_params(self.merchant.secret)
        pause = RETRY_FIRST
        while True:
            if await self._acknowledged(params):
                self.journal.acknowledge(transaction.result.transaction_no)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)

    async def _acknowledged(self, params: dict[str, str]) -> bool:
        try:
            response = await self._http.get(self.merchant.ipn_url, params=params)
            answer = response.json()
        except (httpx.HTTPError, ValueError):
            return False
        return response.status_code == 200 and isinstance(answer, dict) and answer.get("RspCode") in ACKNOWLEDGING


# ---- the HTTP face ------------------------------------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status)


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


def create_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        gateway.start()
        yield
        await gateway.stop()

    app = FastAPI(title="cutru local payment gateway", lifespan=lifespan, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(PAY_PAGE)
    async def payment_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        try:
            order = gateway.order(params)
        except ValueError as error:
            return _page("Yêu cầu thanh toán không hợp lệ", f"<p>{html.escape(str(error))}</p>", 400)
        paid = gateway.journal.paid(order.txn_ref)
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        state = (f"<p>Đơn hàng đã được thanh toán (giao dịch {paid.result.transaction_no}).</p>" if paid else "")
        return _page("Cổng thanh toán (môi trường thử nghiệm)", (
            f"<p>Đơn hàng: {html.escape(order.txn_ref)}</p><p>Nội dung: {html.escape(order.order_info)}</p>"
            f"<p>Số tiền: {_vnd(order.amount_vnd)}</p>{state}"
            f'<form method="post" action="{PAY_ACTION}">{hidden}'
            '<button name="action" value="pay">Thanh toán</button> '
            '<button name="action" value="cancel">Hủy giao dịch</button></form>'))

    @app.post(PAY_ACTION, response_model=None)
    async def pay(request: Request) -> HTMLResponse | RedirectResponse:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        action = form.pop("action", "pay")
        try:
            transaction = gateway.pay(gateway.order(form), cancel=action == "cancel")
        except ValueError as error:
            return _page("Không thể thanh toán", f"<p>{html.escape(str(error))}</p>", 400)
        query = urlencode(transaction.result.signed_params(gateway.merchant.secret))
        separator = "&" if "?" in transaction.return_url else "?"
        return RedirectResponse(f"{transaction.return_url}{separator}{query}", status_code=303)

    @app.post(QUERY_API)
    async def query(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        return JSONResponse(gateway.query(body))

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0: any free port (the address is printed)")
    parser.add_argument("--ipn-url", required=True, help="cutru's IPN endpoint (…/v1/payments/vnpay/ipn)")
    parser.add_argument("--state-file", type=Path, default=Path(".cutru/payment-gateway.jsonl"))
    parser.add_argument("--tmn-code", default=os.environ.get("CUTRU_PAYMENT_TMN_CODE"),
                        help="the merchant code (default: CUTRU_PAYMENT_TMN_CODE)")
    parser.add_argument("--secret", default=os.environ.get("CUTRU_PAYMENT_HASH_SECRET"),
                        help="the merchant's hash secret (default: CUTRU_PAYMENT_HASH_SECRET)")
    args = parser.parse_args(argv)
    if not args.tmn_code or not args.secret:
        parser.error("give --tmn-code and --secret, or set CUTRU_PAYMENT_TMN_CODE and CUTRU_PAYMENT_HASH_SECRET")
    gateway = Gateway(Merchant(tmn_code=args.tmn_code, secret=args.secret, ipn_url=args.ipn_url),
                      Journal(args.state_file))
    # Bound and listening before the address is printed: a caller that read it can connect at once (--port 0 too).
    listener = socket.create_server((args.host, args.port))
    host, port = listener.getsockname()[:2]
    print(f"payment gateway on http://{host}:{port}{PAY_PAGE}", file=sys.stderr, flush=True)
    uvicorn.run(create_app(gateway), fd=listener.fileno(), log_level="warning")


if __name__ == "__main__":
    main()

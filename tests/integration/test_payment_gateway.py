"""The fee paid through a real gateway process speaking VNPAY's protocol, with cutru's API taking its callbacks.

The local gateway runs as its own process (``python -m cutru_local.gateway``) on a free port; the API is the real
app served by uvicorn on another, because the gateway calls it; the worker uses ``HttpPaymentGateway``. The
dossiers poll the gateway only every five minutes here, so a dossier that completes within seconds was woken by the
IPN.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.payment import GatewayConfig, HttpPaymentGateway, order_info, pay_at_local_gateway
from cutru.api.app import create_app
from cutru.api.settings import ApiSettings
from cutru.platform.config import Settings
from cutru.platform.oidc import Principal, TokenRejected
from domain import payment_protocol as vnp
from domain.models import DossierState, ProcessingOptions
from tests.factories import Desk, new_person, new_place, registration
from worker import build_worker

TMN_CODE = "CUTRUT01"
SECRET = f"test-secret-{uuid.uuid4().hex}"
IPN_PATH = "/v1/payments/vnpay/ipn"
RETURN_PATH = "/v1/payments/vnpay/return"
# Only a callback wakes a dossier within a test's time: the fee is polled every five minutes.
CALLBACK_ONLY = ProcessingOptions(payment_timeout=timedelta(minutes=30), payment_poll_interval=timedelta(minutes=5),
                                  supplement_timeout=timedelta(seconds=60), reminder_fraction=0.25)


class NoTokens:
    """The payment endpoints take no bearer token; any other endpoint is closed in these tests."""

    async def verify(self, token: str) -> Principal:
        raise TokenRejected("no tokens are issued in the payment gateway tests")

    async def aclose(self) -> None:
        return None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway_config(gateway_url: str, api_url: str) -> GatewayConfig:
    return GatewayConfig(pay_url=f"{gateway_url}/paymentv2/vpcpay.html", tmn_code=TMN_CODE,
                         hash_secret=SecretStr(SECRET), return_url=f"{api_url}{RETURN_PATH}")


def callback_app(settings: Settings) -> FastAPI:
    return create_app(ApiSettings(core=settings), verifier=NoTokens())


@asynccontextmanager
async def serving(app: FastAPI, listener: socket.socket) -> AsyncIterator[None]:
    """The app on uvicorn, on an already bound socket."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("the API stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def unbound_port_socket() -> socket.socket:
    """A socket with a port of its own that refuses connections until it is served."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener


def url_of(listener: socket.socket) -> str:
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


class GatewayProcess:
    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url
        self._drain = asyncio.create_task(self._read_rest())

    async def _read_rest(self) -> None:
        assert self.process.stderr is not None
        while await self.process.stderr.readline():
            pass

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        await self.process.wait()
        await self._drain


async def start_gateway(ipn_url: str, state_file: Path, port: int = 0) -> GatewayProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutru_local.gateway", "--port", str(port), "--ipn-url", ipn_url,
        "--state-file", str(state_file), stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"CUTRU_PAYMENT_TMN_CODE": TMN_CODE, "CUTRU_PAYMENT_HASH_SECRET": SECRET})
    assert process.stderr is not None
    line = (await asyncio.wait_for(process.stderr.readline(), timeout=30)).decode()
    if "payment gateway on " not in line:
        process.kill()
        raise AssertionError(f"the gateway did not start: {line}")
    parts = urlsplit(line.split("payment gateway on ", 1)[1].strip())
    return GatewayProcess(process, f"{parts.scheme}://{parts.netloc}")


@asynccontextmanager
async def gateway(ipn_url: str, state_file: Path) -> AsyncIterator[GatewayProcess]:
    running = await start_gateway(ipn_url, state_file)
    try:
        yield running
    finally:
        await running.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def pay_at(payment_url: str) -> dict[str, str]:
    """What the citizen's browser does: open the payment page, press "pay"; the signed result it is sent back with."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(payment_url)
    assert page.status_code == 200, page.text
    assert "Thanh toán" in page.text
    return await pay_at_local_gateway(payment_url)


async def transactions(pool: asyncpg.Pool, order_id: str) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM payment_transactions WHERE order_id = $1", order_id))


async def fee_dossier(pool: asyncpg.Pool) -> dict[str, object]:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        home = await new_place(conn, owner_id=person.personal_id)
    return registration(person, home)


async def test_a_fee_is_paid_on_the_gateways_page_and_its_ipn_wakes_the_dossier(
        temporal: WorkflowEnvironment, client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    settings = settings.model_copy(update={"processing": CALLBACK_ONLY})
    app = callback_app(settings)
    listener = unbound_port_socket()
    api_url = url_of(listener)
    async with serving(app, listener), gateway(f"{api_url}{IPN_PATH}", tmp_path / "gateway.jsonl") as gw:
        config = gateway_config(gw.url, api_url)
        app.state.payment_gateway = config
        async with build_worker(client, settings, pool, gateway=HttpPaymentGateway(pool, config)):
            desk = Desk(temporal, settings, pool)
            raw = await fee_dossier(pool)
            code = str(raw["dossier_code"])
            await desk.start(raw)
            await desk.approve(code)
            await desk.wait_state(code, DossierState.AWAITING_PAYMENT)
            order = await HttpPaymentGateway(pool, config).order(code)
            assert order.status == "pending" and order.payment_url is not None
            assert order.payment_url.startswith(f"{gw.url}/paymentv2/vpcpay.html?")

            # The citizen first cancels on the gateway's page: its IPN is recorded, and the dossier keeps waiting.
            cancelled = await pay_at_local_gateway(order.payment_url, cancel=True)
            assert (cancelled["vnp_ResponseCode"], cancelled["vnp_TransactionStatus"]) == ("24", "02")

            async def cancellation_recorded() -> bool:
                return bool(await transactions(pool, order.order_id))

            await eventually(cancellation_recorded, "the gateway's IPN of the cancelled payment reaches cutru")
            assert (await desk.status(code)).state == DossierState.AWAITING_PAYMENT
            assert (await HttpPaymentGateway(pool, config).order_status(code)).status == "pending"

            result = await pay_at(order.payment_url)
            assert vnp.params_signed(result, SECRET)
            assert result["vnp_TxnRef"] == order.order_id
            assert vnp.decode_amount(result["vnp_Amount"]) == order.amount_vnd
            async with httpx.AsyncClient(timeout=10) as browser:
                back = await browser.get(f"{api_url}{RETURN_PATH}", params=result,
                                         headers={"Accept": "application/json"})
                page = await browser.get(f"{api_url}{RETURN_PATH}", params=result)
            assert back.status_code == 200
            assert back.json() | {"message": "", "message_vi": ""} == {
                "code": "00", "paid": True, "dossier_code": code, "order_id": order.order_id,
                "amount_vnd": order.amount_vnd, "transaction_no": result["vnp_TransactionNo"],
                "message": "", "message_vi": ""}
            assert "Thanh toán thành công" in page.text

            outcome = await asyncio.wait_for(desk.result(code), timeout=30)
            assert outcome.state == DossierState.COMPLETED
            assert outcome.fee_paid_vnd == order.amount_vnd
            recorded = await transactions(pool, order.order_id)
            assert sorted((r["transaction_no"], r["response_code"], r["order_status"]) for r in recorded) == sorted([
                (cancelled["vnp_TransactionNo"], "24", "pending"), (result["vnp_TransactionNo"], "00", "pending")])
            assert await pool.fetchval("SELECT status FROM payments WHERE dossier_code = $1", code) == "paid"

            # The gateway's IPN again, or the same result replayed within the window: 02 and nothing more.
            async with httpx.AsyncClient(timeout=10) as caller:
                again = await caller.get(f"{api_url}{IPN_PATH}", params=result)
            assert again.json() == {"RspCode": "02", "Message": "Order already confirmed"}
            assert len(await transactions(pool, order.order_id)) == 2
            paid_events = [e for e in (await temporal.client.get_workflow_handle(code).fetch_history()).events
                           if e.HasField("workflow_execution_signaled_event_attributes")
                           and e.workflow_execution_signaled_event_attributes.signal_name == "payment_confirmed"]
            assert len(paid_events) == 1


def callback(order_id: str, amount_vnd: int, **changes: object) -> vnp.PaymentResult:
    fields: dict[str, object] = {
        "tmn_code": TMN_CODE, "amount_vnd": amount_vnd, "txn_ref": order_id,
        "transaction_no": str(uuid.uuid4().int % 10**14), "response_code": "00", "transaction_status": "00",
        "pay_date": datetime.now(UTC).replace(microsecond=0), "order_info": "x", "bank_code": "NCB"}
    return vnp.PaymentResult.model_validate(fields | changes)


async def test_a_forged_stale_foreign_or_mismatched_callback_is_refused_and_writes_nothing(
        settings: Settings, pool: asyncpg.Pool):
    code = f"HS-PAYTEST-{uuid.uuid4().hex[:8].upper()}"
    config = gateway_config("http://127.0.0.1:9", "http://127.0.0.1:9")
    order = await HttpPaymentGateway(pool, config).create_order(code, 25_000)
    good = callback(order.order_id, 25_000)
    signed = good.signed_params(SECRET)
    app = callback_app(settings)
    app.state.payment_gateway = config
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cutru.test") as caller:

        async def ipn(params: dict[str, str] | httpx.QueryParams) -> str:
            response = await caller.get(IPN_PATH, params=params)
            assert response.status_code == 200
            return str(response.json()["RspCode"])

        assert await ipn(signed | {"vnp_Amount": "100"}) == "97"  # tampered after signing
        assert await ipn(good.signed_params("another merchant's secret")) == "97"
        assert await ipn({k: v for k, v in signed.items() if k != vnp.HASH_FIELD}) == "97"
        repeated = httpx.QueryParams([*signed.items(), ("vnp_TxnRef", "PAY-OTHER")])
        assert await ipn(repeated) == "97"  # which of the two values was signed?
        assert await ipn(callback(order.order_id, 25_000, tmn_code="OTHER001").signed_params(SECRET)) == "97"
        stale = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=16)
        assert await ipn(callback(order.order_id, 25_000, pay_date=stale).signed_params(SECRET)) == "97"
        assert await ipn(callback("PAY-NO-SUCH-ORDER", 25_000).signed_params(SECRET)) == "01"
        assert await ipn(callback(order.order_id, 24_000).signed_params(SECRET)) == "04"
        # Everything checks out, but no workflow takes the signal: 99, so the gateway sends it again.
        assert await ipn(signed) == "99"
        assert await transactions(pool, order.order_id) == []

        back = await caller.get(RETURN_PATH, params=signed | {"vnp_Amount": "100"},
                                headers={"Accept": "application/json"})
        assert back.status_code == 400 and back.json()["code"] == "97" and not back.json()["paid"]


async def test_the_gateway_keeps_payments_and_owed_ipns_across_a_crash(
        settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    """Paid while cutru's API is down; the gateway is killed; restarted on its journal it still knows the payment
    and delivers the IPN once the API is up."""
    code = f"HS-PAYTEST-{uuid.uuid4().hex[:8].upper()}"
    listener = unbound_port_socket()  # cutru's API, not serving yet: the IPN is refused
    api_url = url_of(listener)
    journal = tmp_path / "gateway.jsonl"
    first = await start_gateway(f"{api_url}{IPN_PATH}", journal)
    config = gateway_config(first.url, api_url)
    gateway_client = HttpPaymentGateway(pool, config)
    order = await gateway_client.create_order(code, 30_000)
    assert order.payment_url is not None
    assert (await gateway_client.order_status(code)).status == "pending"  # querydr: not found yet
    result = await pay_at(order.payment_url)
    await first.stop(signal.SIGKILL)

    again = await start_gateway(f"{api_url}{IPN_PATH}", journal, port=urlsplit(first.url).port or 0)
    try:
        paid = await gateway_client.order_status(code)
        assert paid.status == "paid"
        assert await pool.fetchval("SELECT paid_at FROM payments WHERE dossier_code = $1", code) == \
            vnp.parse_time(result["vnp_PayDate"])
        app = callback_app(settings)
        app.state.payment_gateway = config
        async with serving(app, listener):

            async def delivered() -> bool:
                return bool(await transactions(pool, order.order_id))

            await eventually(delivered, "the restarted gateway's IPN reaches cutru")
        recorded = await transactions(pool, order.order_id)
        assert [(r["transaction_no"], r["order_status"]) for r in recorded] == [
            (result["vnp_TransactionNo"], "paid")]
        # Paying again at the restarted gateway gives the same transaction, not a second charge.
        assert (await pay_at(order.payment_url))["vnp_TransactionNo"] == result["vnp_TransactionNo"]
    finally:
        await again.stop()
        await gateway_client.aclose()


async def test_cancelling_keeps_a_paid_order_and_a_payment_after_it_is_one_to_refund(
        settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    listener = unbound_port_socket()
    api_url = url_of(listener)
    app = callback_app(settings)
    async with serving(app, listener), gateway(f"{api_url}{IPN_PATH}", tmp_path / "gateway.jsonl") as gw:
        config = gateway_config(gw.url, api_url)
        app.state.payment_gateway = config
        orders = HttpPaymentGateway(pool, config)
        try:
            paid_code, late_code = (f"HS-PAYTEST-{uuid.uuid4().hex[:8].upper()}" for _ in range(2))
            paid = await orders.create_order(paid_code, 20_000)
            assert paid.payment_url is not None
            await pay_at_local_gateway(paid.payment_url)
            assert (await orders.cancel_order(paid_code)).status == "paid"  # paid meanwhile: the fee is kept

            late = await orders.create_order(late_code, 20_000)
            assert late.payment_url is not None
            assert (await orders.cancel_order(late_code)).status == "cancelled"
            result = await pay_at_local_gateway(late.payment_url)

            async def recorded() -> bool:
                return bool(await transactions(pool, late.order_id))

            await eventually(recorded, "the IPN of the payment after the cancellation reaches cutru")
            assert [(r["transaction_no"], r["order_status"]) for r in await transactions(pool, late.order_id)] == [
                (result["vnp_TransactionNo"], "cancelled")]
            assert (await orders.order_status(late_code)).status == "cancelled"
        finally:
            await orders.aclose()


async def test_the_gateways_query_api_refuses_an_unsigned_request(tmp_path: Path):
    async with gateway("http://127.0.0.1:9/ipn", tmp_path / "gateway.jsonl") as gw, \
            httpx.AsyncClient(timeout=10) as caller:
        body = vnp.query_request(request_id="r1", tmn_code=TMN_CODE, txn_ref="PAY-X", order_info=order_info("X"),
                                 transaction_date=datetime.now(UTC), now=datetime.now(UTC), ip_addr="127.0.0.1",
                                 secret="not the merchant's secret")
        answer = (await caller.post(f"{gw.url}/merchant_webapi/api/transaction", json=body)).json()
        assert answer["vnp_ResponseCode"] == "97"
        assert vnp.fields_signed(answer, vnp.QUERY_RESPONSE_FIELDS, SECRET)
        forged = await caller.get(f"{gw.url}/paymentv2/vpcpay.html", params=vnp.sign_params(
            {"vnp_Command": "pay", "vnp_TxnRef": "PAY-X"}, "not the merchant's secret"))
        assert forged.status_code == 400


async def test_a_portal_reads_the_payment_url_of_its_dossier(
        temporal: WorkflowEnvironment, settings: Settings, pool: asyncpg.Pool, api_app: FastAPI,
        api_client: httpx.AsyncClient, portal_token: str):
    config = gateway_config("http://gateway.test", "http://cutru.test")
    api_app.state.payment_gateway = config
    desk = Desk(temporal, settings, pool)
    raw = await fee_dossier(pool)
    code = str(raw["dossier_code"])
    await desk.start(raw)
    await desk.wait_state(code, DossierState.AWAITING_DECISION)
    before = await api_client.get(f"/v1/dossiers/{code}/payment", headers=bearer(portal_token))
    assert before.status_code == 404 and before.json()["code"] == "payment_not_found"
    await desk.approve(code)
    await desk.wait_state(code, DossierState.AWAITING_PAYMENT)

    assert (await api_client.get(f"/v1/dossiers/{code}/payment")).status_code == 401
    response = await api_client.get(f"/v1/dossiers/{code}/payment", headers=bearer(portal_token))
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["dossier_code"], view["order_id"], view["status"]) == (code, f"PAY-{code}", "pending")
    params = dict(parse_qsl(urlsplit(view["payment_url"]).query))
    assert view["payment_url"].startswith("http://gateway.test/paymentv2/vpcpay.html?")
    assert vnp.params_signed(params, SECRET)
    assert vnp.PayRequest.parse(params).amount_vnd == view["amount_vnd"] > 0
    assert params["vnp_ReturnUrl"] == f"http://cutru.test{RETURN_PATH}"
    unknown = await api_client.get("/v1/dossiers/HS-NO-SUCH-DOSSIER/payment", headers=bearer(portal_token))
    assert unknown.status_code == 404 and unknown.json()["code"] == "dossier_not_found"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The gateway and the API talk over 127.0.0.1; a proxy from the environment would stand between them.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

"""The payment gateway's calls to cutru (VNPAY 2.1.0's IPN and return URL), and the payment link for portals.

- ``GET /v1/payments/vnpay/ipn``: the gateway's server-to-server notification. A gateway sends no bearer token
  there: the HMAC-SHA512 signature over the parameters authenticates it, and ``vnp_PayDate`` must lie within the
  replay window (CUTRU_PAYMENT_REPLAY_WINDOW). The order (``vnp_TxnRef``) must be cutru's, for the dossier it names
  and for the amount cutru asked; each gateway transaction (``vnp_TransactionNo``) is recorded once (a unique key),
  then the dossier's workflow is signalled ``payment_confirmed``. The signal only wakes the workflow: it asks the
  gateway's query API for the truth before it goes on. The answer is the protocol's JSON ``{"RspCode", "Message"}``:
  00 confirmed, 01 order not found, 02 already confirmed (the same transaction again: nothing more happens),
  04 invalid amount, 97 invalid signature (or stale), 99 a fault on cutru's side (the gateway sends it again). A
  refused callback writes nothing.
- ``GET /v1/payments/vnpay/return``: where the gateway sends the citizen's browser back; the same checks, nothing
  written, a short page in Vietnamese (or JSON with ``Accept: application/json``).
- ``GET /v1/dossiers/{code}/payment``: a portal backend reads the order and the URL to send its citizen to.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from activities.payment import GatewayConfig, GatewayConfigError, HttpPaymentGateway
from cutru.api.problems import Problem, dossier_not_found, problem_responses
from cutru.api.security import check_readable, permit
from cutru.api.state import ApiState, api_state
from cutru.platform.logging import get_logger
from cutru.platform.oidc import Principal
from domain import payment_protocol as vnp
from domain.models import PaymentConfirmation

router = APIRouter(tags=["payments"])
log = get_logger(component="payments")


class IpnAnswer(BaseModel):
    """The merchant's answer to an IPN, as the protocol has it."""

    RspCode: str = Field(description="00 confirmed, 01 order not found, 02 already confirmed, 04 invalid amount, "
                                     "97 invalid signature or outside the replay window, 99 try again")
    Message: str


class PaymentResultView(BaseModel):
    """What the browser's return URL says, as JSON."""

    code: str = Field(description="as an IPN answer's RspCode")
    paid: bool
    message: str
    message_vi: str
    dossier_code: str | None = None
    order_id: str | None = None
    amount_vnd: int | None = None
    transaction_no: str | None = None


class PaymentView(BaseModel):
    """A dossier's payment order: where its citizen pays."""

    dossier_code: str
    order_id: str
    amount_vnd: int
    status: Literal["pending", "paid", "cancelled"]
    payment_url: str | None = Field(description="the gateway's payment page for this order; null once it is paid "
                                                "or cancelled")


async def gateway_config(request: Request) -> GatewayConfig:
    """The gateway the API checks callbacks of: ``app.state.payment_gateway``, else the environment's."""
    config: GatewayConfig | None = getattr(request.app.state, "payment_gateway", None)
    if config is None:
        try:
            config = GatewayConfig.from_env(os.environ)
        except GatewayConfigError as error:
            raise _not_configured(str(error)) from error
        if config is None:
            raise _not_configured("CUTRU_PAYMENT_GATEWAY_URL is not set")
        request.app.state.payment_gateway = config
    return config


def _not_configured(reason: str) -> Problem:
    return Problem(503, "payment_gateway_not_configured", "No payment gateway is configured",
                   "Chưa cấu hình cổng thanh toán",
                   detail=f"{reason}: the operator sets the CUTRU_PAYMENT_* variables.",
                   detail_vi="Quản trị viên cần đặt các biến CUTRU_PAYMENT_* cho cổng thanh toán.")


State = Annotated[ApiState, Depends(api_state)]
Config = Annotated[GatewayConfig, Depends(gateway_config)]


def _single(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """The parameters, or None when one is repeated (which value was signed would be a guess)."""
    single = dict(pairs)
    return single if len(single) == len(pairs) else None


_ORDER = "SELECT dossier_code, amount_vnd, status FROM payments WHERE order_id = $1"
# The IPN holds the order's row until its transaction is recorded, so two deliveries of one IPN are told apart.
_ORDER_FOR_UPDATE = "SELECT dossier_code, amount_vnd, status FROM payments WHERE order_id = $1 FOR UPDATE"


class _Checked(BaseModel):
    result: vnp.PaymentResult
    dossier_code: str
    order_status: str


async def _check(conn: asyncpg.Connection, config: GatewayConfig, pairs: list[tuple[str, str]], *,
                 lock: bool) -> _Checked:
    """Signature, window, order and amount; CallbackRefused with the protocol's code otherwise."""
    params = _single(pairs)
    if params is None:
        raise vnp.CallbackRefused(vnp.RSP_INVALID_SIGNATURE, "a parameter is repeated")
    result = vnp.verify_callback(params, secret=config.secret, tmn_code=config.tmn_code, now=datetime.now(UTC),
                                 replay_window=config.replay_window)
    if lock:
        order = await conn.fetchrow(_ORDER_FOR_UPDATE, result.txn_ref)
    else:
        order = await conn.fetchrow(_ORDER, result.txn_ref)
    if order is None:
        raise vnp.CallbackRefused(vnp.RSP_ORDER_NOT_FOUND, f"no order {result.txn_ref}")
    if order["amount_vnd"] != result.amount_vnd:
        raise vnp.CallbackRefused(vnp.RSP_INVALID_AMOUNT, f"order {result.txn_ref} is for {order['amount_vnd']} VND,"
                                                          f" not {result.amount_vnd} VND")
    return _Checked(result=result, dossier_code=order["dossier_code"], order_status=order["status"])


@router.get("/v1/payments/vnpay/ipn", operation_id="payment_ipn", response_model=IpnAnswer,
            responses=problem_responses(503),
            summary="The payment gateway's notification (IPN), authenticated by its HMAC-SHA512 signature")
async def payment_ipn(request: Request, state: State, config: Config) -> IpnAnswer:
    pairs = list(request.query_params.multi_items())
    try:
        async with state.pool.acquire() as conn, conn.transaction():
            checked = await _check(conn, config, pairs, lock=True)
            result = checked.result
            recorded = await conn.fetchval(
                "INSERT INTO payment_transactions (transaction_no, order_id, dossier_code, amount_vnd, response_code,"
                " transaction_status, bank_code, paid_at, order_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (transaction_no) DO NOTHING RETURNING transaction_no",
                result.transaction_no, result.txn_ref, checked.dossier_code, result.amount_vnd,
                result.response_code, result.transaction_status, result.bank_code, result.pay_date,
                checked.order_status)
            if recorded is None or checked.order_status != "pending":
                log.info("payment callback: already confirmed", order_id=result.txn_ref,
                         transaction_no=result.transaction_no, order_status=checked.order_status,
                         new_transaction=recorded is not None)
                return IpnAnswer(**vnp.ipn_answer(vnp.RSP_ALREADY_CONFIRMED))
            if result.succeeded:
                # Inside the transaction: a signal that fails leaves no row, so the gateway's retry is not a "02".
                await state.dossiers.confirm_payment(checked.dossier_code, PaymentConfirmation(
                    order_id=result.txn_ref, amount_vnd=result.amount_vnd))
    except vnp.CallbackRefused as refused:
        log.warning("payment callback refused", code=refused.code, reason=refused.reason)
        return IpnAnswer(**vnp.ipn_answer(refused.code))
    except RPCError as error:
        log.error("payment callback: the dossier could not be signalled", error=str(error))
        return IpnAnswer(**vnp.ipn_answer(vnp.RSP_UNKNOWN_ERROR))
    log.info("payment callback confirmed", order_id=result.txn_ref, transaction_no=result.transaction_no,
             paid=result.succeeded)
    return IpnAnswer(**vnp.ipn_answer(vnp.RSP_CONFIRMED))


_RETURN_TEXT = {
    "paid": ("Payment received: the dossier goes on.", "Thanh toán thành công. Hồ sơ của bạn sẽ được xử lý tiếp."),
    "failed": ("The payment did not go through: pay again from the portal.",
               "Giao dịch không thành công. Bạn có thể thanh toán lại trên cổng dịch vụ công."),
    vnp.RSP_ORDER_NOT_FOUND: ("No such payment order.", "Không tìm thấy yêu cầu thanh toán."),
    vnp.RSP_INVALID_AMOUNT: ("The amount does not match the order.", "Số tiền không khớp với yêu cầu thanh toán."),
    vnp.RSP_INVALID_SIGNATURE: ("This payment result is invalid or too old: check the dossier's status on the "
                                "portal.", "Kết quả thanh toán không hợp lệ hoặc đã hết hạn: hãy xem trạng thái hồ"
                                           " sơ trên cổng dịch vụ công."),
}


@router.get("/v1/payments/vnpay/return", operation_id="payment_return", response_model=PaymentResultView,
            responses={200: {"content": {"text/html": {}}},
                       400: {"model": PaymentResultView, "content": {"text/html": {}},
                             "description": "a result that is not the gateway's, or no longer valid"},
                       **problem_responses(503)},
            summary="Where the gateway sends the citizen's browser back: the result, nothing written")
async def payment_return(request: Request, state: State, config: Config) -> HTMLResponse | JSONResponse:
    try:
        async with state.pool.acquire() as conn:
            checked = await _check(conn, config, list(request.query_params.multi_items()), lock=False)
    except vnp.CallbackRefused as refused:
        en, vi = _RETURN_TEXT[refused.code]
        view = PaymentResultView(code=refused.code, paid=False, message=en, message_vi=vi)
        return _result(request, view, status=400)
    result = checked.result
    en, vi = _RETURN_TEXT["paid" if result.succeeded else "failed"]
    view = PaymentResultView(code=vnp.RSP_CONFIRMED, paid=result.succeeded, message=en, message_vi=vi,
                             dossier_code=checked.dossier_code, order_id=result.txn_ref, amount_vnd=result.amount_vnd,
                             transaction_no=result.transaction_no)
    return _result(request, view, status=200)


def _result(request: Request, view: PaymentResultView, status: int) -> HTMLResponse | JSONResponse:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(view.model_dump(mode="json"), status_code=status)
    rows = "".join(f"<p>{label}: {html.escape(str(value))}</p>" for label, value in (
        ("Mã hồ sơ", view.dossier_code), ("Mã thanh toán", view.order_id),
        ("Số tiền", f"{view.amount_vnd:,} ₫".replace(",", ".") if view.amount_vnd is not None else None),
        ("Mã giao dịch", view.transaction_no)) if value is not None)
    title = "Thanh toán thành công" if view.paid else "Thanh toán chưa thành công"
    return HTMLResponse(f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>'
                        f"<body><h1>{title}</h1><p>{html.escape(view.message_vi)}</p>{rows}</body></html>",
                        status_code=status)


@router.get("/v1/dossiers/{code}/payment", operation_id="get_payment", response_model=PaymentView,
            responses=problem_responses(401, 403, 404, 503),
            summary="A dossier's payment order and the gateway URL its citizen pays at")
async def get_payment(code: str, state: State, principal: Annotated[Principal, Depends(permit("read_dossier"))],
                      config: Config) -> PaymentView:
    dossier = await state.pool.fetchrow("SELECT unit_code, procedure FROM dossiers WHERE dossier_code = $1", code)
    if dossier is None:
        raise dossier_not_found(code)
    check_readable(principal, code, dossier["unit_code"], dossier["procedure"])
    try:
        order = await HttpPaymentGateway(state.pool, config).order(code)
    except LookupError as error:
        raise Problem(404, "payment_not_found", "No payment order", "Chưa có yêu cầu thanh toán",
                      detail=f"Dossier {code} has no payment order yet: it is asked for once the dossier is approved.",
                      detail_vi=f"Hồ sơ {code} chưa có yêu cầu thanh toán: yêu cầu được tạo khi hồ sơ được duyệt."
                      ) from error
    return PaymentView(dossier_code=code, order_id=order.order_id, amount_vnd=order.amount_vnd, status=order.status,
                       payment_url=order.payment_url if order.status == "pending" else None)

"""The payment gateway seen by the fee step: an HTTP gateway speaking VNPAY's protocol, and an in-database one.

``PaymentGateway`` is what the fee step needs. ``HttpPaymentGateway`` reaches a gateway in the shape of VNPAY 2.1.0
(``domain.payment_protocol``; the local stack runs ``cutru_local.gateway``): an order is cutru's own row in
``payments`` plus a signed payment URL the citizen's browser is sent to; its status is what the gateway's signed
query API (``querydr``) says. ``LocalPaymentGateway`` keeps orders in PostgreSQL only and confirms them by a
``pay`` call or — for tests, demos and benchmarks — by itself ``auto_confirm_after`` the order was created.
Every call of both is idempotent by dossier code.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from activities.contracts import PaymentOrder
from activities.records import OPEN
from domain import payment_protocol as vnp

if TYPE_CHECKING:
    import asyncpg


class PaymentGateway(Protocol):
    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder:
        """The dossier's order, with the read model's dossier awaiting its payment (``AWAITING_PAYMENT``)."""

    async def order_status(self, dossier_code: str) -> PaymentOrder: ...

    async def cancel_order(self, dossier_code: str) -> PaymentOrder: ...


def order_id_for(dossier_code: str) -> str:
    return f"PAY-{dossier_code}"


# Both gateways' order statements begin with this ($1 the dossier, $3 the fee): the read model's dossier awaits its
# payment, unless it is closed (a late attempt never reopens it: ``records.OPEN``). In the order's statement, so the
# fee step costs one round trip and neither write is seen without the other; a repeated call writes the same again.
AWAITING_PAYMENT = ("WITH awaiting AS (UPDATE dossiers SET status = 'awaiting_payment', fee_vnd = $3,"
                    f" updated_at = now() WHERE dossier_code = $1 AND {OPEN}) ")


class LocalPaymentGateway:
    def __init__(self, pool: asyncpg.Pool, auto_confirm_after: timedelta | None = None) -> None:
        self._pool = pool
        self._auto_confirm_after = auto_confirm_after

    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder:
        status = "paid" if self._auto_confirm_after == timedelta(0) else "pending"
        # One round trip: a repeated call changes nothing and returns the order as it stands (a pending one that
        # is due is confirmed by the next status check, as every pending order is).
        row = await self._pool.fetchrow(
            AWAITING_PAYMENT + "INSERT INTO payments (dossier_code, order_id, amount_vnd, status, paid_at)"
            " VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'paid' THEN now() END)"
            " ON CONFLICT (dossier_code) DO UPDATE SET dossier_code = EXCLUDED.dossier_code"
            " RETURNING order_id, amount_vnd, status",
            dossier_code, order_id_for(dossier_code), amount_vnd, status,
        )
        return self._order(dossier_code, row)

    async def order_status(self, dossier_code: str) -> PaymentOrder:
        if self._auto_confirm_after is not None:
            await self._pool.execute(
                "UPDATE payments SET status = 'paid', paid_at = now()"
                " WHERE dossier_code = $1 AND status = 'pending' AND created_at + $2 <= now()",
                dossier_code, self._auto_confirm_after,
            )
        return await self._read(dossier_code)

    async def cancel_order(self, dossier_code: str) -> PaymentOrder:
        await self._pool.execute(
            "UPDATE payments SET status = 'cancelled' WHERE dossier_code = $1 AND status = 'pending'", dossier_code
        )
        return await self._read(dossier_code)

    async def pay(self, dossier_code: str) -> PaymentOrder:
        """The citizen pays (what the portal's payment page does)."""
        await self._pool.execute(
            "UPDATE payments SET status = 'paid', paid_at = now() WHERE dossier_code = $1 AND status = 'pending'",
            dossier_code,
        )
        return await self._read(dossier_code)

    async def _read(self, dossier_code: str) -> PaymentOrder:
        row = await self._pool.fetchrow(
            "SELECT order_id, amount_vnd, status FROM payments WHERE dossier_code = $1", dossier_code
        )
        if row is None:
            raise LookupError(f"no payment order for dossier {dossier_code}")
        return self._order(dossier_code, row)

    @staticmethod
    def _order(dossier_code: str, row: Any) -> PaymentOrder:
        return PaymentOrder(dossier_code=dossier_code, order_id=row["order_id"], amount_vnd=row["amount_vnd"],
                            status=row["status"])


# ---- the HTTP gateway ----------------------------------------------------------------------------------------------

# Where VNPAY serves its query API, relative to the payment page's origin (the local gateway serves it there too).
QUERY_PATH = "/merchant_webapi/api/transaction"
# The local gateway's (cutru_local.gateway) pay button posts the payment URL's parameters here.
LOCAL_PAY_ACTION = "/paymentv2/pay"
GATEWAY_ENV = {
    "pay_url": "CUTRU_PAYMENT_GATEWAY_URL",
    "tmn_code": "CUTRU_PAYMENT_TMN_CODE",
    "hash_secret": "CUTRU_PAYMENT_HASH_SECRET",
    "query_url": "CUTRU_PAYMENT_QUERY_URL",
    "return_url": "CUTRU_PAYMENT_RETURN_URL",
    "ip_addr": "CUTRU_PAYMENT_IP_ADDR",
    "replay_window": "CUTRU_PAYMENT_REPLAY_WINDOW",
    "order_expiry": "CUTRU_PAYMENT_ORDER_EXPIRY",
}
_REQUIRED = ("pay_url", "tmn_code", "hash_secret")


class GatewayConfigError(ValueError):
    """The gateway's variables are half set or invalid (a one-line message naming the variable)."""


class GatewayConfig(BaseModel):
    """How cutru reaches its payment gateway, and what it checks of the gateway's callbacks."""

    model_config = ConfigDict(frozen=True)

    pay_url: str = Field(pattern=r"^https?://", description="the gateway's payment page (vpcpay.html)")
    tmn_code: str = Field(min_length=1, max_length=20, description="cutru's merchant code at the gateway")
    hash_secret: SecretStr = Field(min_length=8)
    query_url: str = Field(default="", description="the query API; default: the payment page's origin + QUERY_PATH")
    return_url: str = Field(default="http://127.0.0.1:8000/v1/payments/vnpay/return", pattern=r"^https?://")
    ip_addr: str = "127.0.0.1"
    replay_window: timedelta = Field(default=vnp.DEFAULT_REPLAY_WINDOW, gt=timedelta(0), le=timedelta(days=1))
    order_expiry: timedelta = Field(default=timedelta(days=3), gt=timedelta(0))
    request_timeout: float = 10.0

    @property
    def secret(self) -> str:
        return self.hash_secret.get_secret_value()

    @property
    def query_endpoint(self) -> str:
        if self.query_url:
            return self.query_url
        parts = urlsplit(self.pay_url)
        return f"{parts.scheme}://{parts.netloc}{QUERY_PATH}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **defaults: Any) -> GatewayConfig | None:
        """The configured gateway, None when none is (CUTRU_PAYMENT_GATEWAY_URL unset); ``defaults`` fill what the
        environment leaves out."""
        values = {field: environ[var] for field, var in GATEWAY_ENV.items() if environ.get(var)}
        if "pay_url" not in values:
            return None
        missing = [GATEWAY_ENV[f] for f in _REQUIRED if f not in values]
        if missing:
            raise GatewayConfigError(f"{GATEWAY_ENV['pay_url']} is set: set {' and '.join(missing)} too")
        try:
            return cls.model_validate(defaults | values)
        except ValidationError as error:
            raise GatewayConfigError("invalid payment gateway settings: " + "; ".join(
                f"{GATEWAY_ENV.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}" for e in error.errors())
            ) from error


def order_info(dossier_code: str) -> str:
    # Vietnamese without diacritics, as the protocol asks of vnp_OrderInfo.
    return f"Le phi ho so {dossier_code}"


class GatewayError(RuntimeError):
    """The gateway answered what the protocol does not allow (a bad signature, another order): the activity retries,
    and the order is never taken as paid on such an answer."""


class HttpPaymentGateway:
    """cutru's orders in ``payments``; their truth from the gateway's query API.

    The gateway learns of an order only when the citizen's browser opens its payment URL, so creating one is local:
    the row, and the URL built from it (the same URL on every retry: its times come from the row). A cancellation
    is recorded here only (the protocol has none for an unpaid order); the URL expires with ``order_expiry``.
    """

    def __init__(self, pool: asyncpg.Pool, config: GatewayConfig, http: httpx.AsyncClient | None = None) -> None:
        self._pool = pool
        self._config = config
        self._http = http  # made at the first query: a gateway that only builds URLs (the API's) needs none

    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder:
        row = await self._pool.fetchrow(
            AWAITING_PAYMENT + "INSERT INTO payments (dossier_code, order_id, amount_vnd, status)"
            " VALUES ($1, $2, $3, 'pending')"
            " ON CONFLICT (dossier_code) DO UPDATE SET dossier_code = EXCLUDED.dossier_code"
            " RETURNING order_id, amount_vnd, status, created_at",
            dossier_code, order_id_for(dossier_code), amount_vnd,
        )
        return self._order(dossier_code, row)

    async def order_status(self, dossier_code: str) -> PaymentOrder:
        row = await self._row(dossier_code)
        if row["status"] == "pending":
            row = await self._settle(dossier_code, row, cancel=False)
        return self._order(dossier_code, row)

    async def cancel_order(self, dossier_code: str) -> PaymentOrder:
        row = await self._row(dossier_code)
        if row["status"] == "pending":
            row = await self._settle(dossier_code, row, cancel=True)
        return self._order(dossier_code, row)

    async def order(self, dossier_code: str) -> PaymentOrder:
        """The order as cutru has it, with the URL the citizen's browser is sent to; LookupError when there is none."""
        return self._order(dossier_code, await self._row(dossier_code))

    async def query(self, dossier_code: str, order_id: str, created_at: datetime) -> vnp.PaymentResult | None:
        """What the gateway says of the order: its payment, or None when it has none (not found, not completed)."""
        now = datetime.now(UTC)
        body = vnp.query_request(
            request_id=uuid.uuid4().hex, tmn_code=self._config.tmn_code, txn_ref=order_id,
            order_info=order_info(dossier_code), transaction_date=created_at, now=now,
            ip_addr=self._config.ip_addr, secret=self._config.secret)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._config.request_timeout)
        response = await self._http.post(self._config.query_endpoint, json=body)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict) or not vnp.fields_signed(answer, vnp.QUERY_RESPONSE_FIELDS,
                                                                  self._config.secret):
            raise GatewayError(f"the gateway's answer for order {order_id} is not signed with cutru's secret")
        code = answer.get("vnp_ResponseCode")
        if code == vnp.QUERY_NOT_FOUND:
            return None
        if code != vnp.QUERY_FOUND or answer.get("vnp_TxnRef") != order_id:
            raise GatewayError(f"the gateway refused the query for order {order_id}:"
                               f" {code} {answer.get('vnp_Message')}")
        try:
            result = vnp.PaymentResult.parse(answer)
        except ValueError as error:
            raise GatewayError(f"the gateway's answer for order {order_id} is malformed: {error}") from error
        # Here vnp_ResponseCode answers the query; vnp_TransactionStatus says whether the order was paid.
        return result if result.transaction_status == vnp.PAID else None

    async def _settle(self, dossier_code: str, row: Any, *, cancel: bool) -> Any:
        paid = await self.query(dossier_code, row["order_id"], row["created_at"])
        if paid is not None and paid.amount_vnd != row["amount_vnd"]:
            raise GatewayError(f"order {row['order_id']}: the gateway says {paid.amount_vnd} VND were paid,"
                               f" the order is for {row['amount_vnd']} VND")
        if paid is not None:
            # Paid, even when it was being cancelled: the fee is kept and the dossier goes on.
            updated = await self._pool.fetchrow(
                "UPDATE payments SET status = 'paid', paid_at = $2 WHERE dossier_code = $1 AND status <> 'paid'"
                " RETURNING order_id, amount_vnd, status, created_at", dossier_code, paid.pay_date)
        elif cancel:
            updated = await self._pool.fetchrow(
                "UPDATE payments SET status = 'cancelled' WHERE dossier_code = $1 AND status = 'pending'"
                " RETURNING order_id, amount_vnd, status, created_at", dossier_code)
        else:
            return row
        return updated if updated is not None else await self._row(dossier_code)

    async def _row(self, dossier_code: str) -> Any:
        row = await self._pool.fetchrow(
            "SELECT order_id, amount_vnd, status, created_at FROM payments WHERE dossier_code = $1", dossier_code)
        if row is None:
            raise LookupError(f"no payment order for dossier {dossier_code}")
        return row

    def _order(self, dossier_code: str, row: Any) -> PaymentOrder:
        return PaymentOrder(dossier_code=dossier_code, order_id=row["order_id"], amount_vnd=row["amount_vnd"],
                            status=row["status"], payment_url=self._url(dossier_code, row))

    def _url(self, dossier_code: str, row: Any) -> str:
        created: datetime = row["created_at"]
        request = vnp.PayRequest(
            tmn_code=self._config.tmn_code, amount_vnd=row["amount_vnd"], txn_ref=row["order_id"],
            order_info=order_info(dossier_code), return_url=self._config.return_url, ip_addr=self._config.ip_addr,
            created_at=created, expires_at=created + self._config.order_expiry)
        return request.url(self._config.pay_url, self._config.secret)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


async def pay_at_local_gateway(payment_url: str, *, cancel: bool = False) -> dict[str, str]:
    """What a citizen's browser does on the local gateway's payment page (development stack, demo, tests): press
    "pay" (or "cancel"); the signed result parameters the gateway sends the browser back with
    (``vnp.PaymentResult.parse`` reads them). The gateway notifies cutru itself. ValueError when the gateway refuses
    (an expired or foreign URL)."""
    parts = urlsplit(payment_url)
    form = dict(parse_qsl(parts.query)) | {"action": "cancel" if cancel else "pay"}
    async with httpx.AsyncClient(timeout=10.0) as browser:
        answer = await browser.post(f"{parts.scheme}://{parts.netloc}{LOCAL_PAY_ACTION}", data=form)
    if answer.status_code != 303:
        raise ValueError(f"the gateway refused the payment ({answer.status_code})")
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))

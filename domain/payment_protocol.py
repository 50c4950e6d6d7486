"""The payment gateway protocol, in the shape of VNPAY's version 2.1.0: parameters, signatures, codes.

Pure: the gateway client in ``activities.payment``, cutru's callback in ``cutru.api.payments`` and the local gateway
process (``cutru_local.gateway``) all build and check messages here, so the three cannot drift apart.

- The payment URL and the gateway's return/IPN calls carry ``vnp_*`` query parameters signed with
  ``vnp_SecureHash`` = HMAC-SHA512(secret, the canonical query string): every ``vnp_*`` parameter with a value but
  the hash fields, sorted by name, each name and value form-encoded (space as ``+``), joined by ``&``.
- The query API (``querydr``) is JSON; its request and response are signed over a fixed list of fields joined by
  ``|`` (the protocol's order, not sorted).
- Amounts travel as VND × 100; times as ``yyyyMMddHHmmss`` in Vietnam's time (GMT+7).
- cutru's own addition: a callback whose ``vnp_PayDate`` lies outside a replay window is refused like a bad
  signature, so a captured callback cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote_plus

from pydantic import BaseModel, ConfigDict

from domain.calendar import VN_TZ

VERSION: Final = "2.1.0"
PAY_COMMAND: Final = "pay"
QUERY_COMMAND: Final = "querydr"
CURRENCY: Final = "VND"
HASH_FIELD: Final = "vnp_SecureHash"
HASH_TYPE_FIELD: Final = "vnp_SecureHashType"
TIME_FORMAT: Final = "%Y%m%d%H%M%S"
DEFAULT_REPLAY_WINDOW: Final = timedelta(minutes=15)

# vnp_ResponseCode / vnp_TransactionStatus of a payment.
PAID: Final = "00"
CUSTOMER_CANCELLED: Final = "24"

# The merchant's answer to an IPN: {"RspCode": ..., "Message": ...}.
RSP_CONFIRMED: Final = "00"
RSP_ORDER_NOT_FOUND: Final = "01"
RSP_ALREADY_CONFIRMED: Final = "02"
RSP_INVALID_AMOUNT: Final = "04"
RSP_INVALID_SIGNATURE: Final = "97"
RSP_UNKNOWN_ERROR: Final = "99"
IPN_MESSAGES: Final = {
    RSP_CONFIRMED: "Confirm Success",
    RSP_ORDER_NOT_FOUND: "Order not found",
    RSP_ALREADY_CONFIRMED: "Order already confirmed",
    RSP_INVALID_AMOUNT: "Invalid amount",
    RSP_INVALID_SIGNATURE: "Invalid signature",
    RSP_UNKNOWN_ERROR: "Unknown error",
}

# vnp_ResponseCode of the query API.
QUERY_FOUND: Final = "00"
QUERY_INVALID_DATA: Final = "03"
QUERY_NOT_FOUND: Final = "91"
QUERY_INVALID_SIGNATURE: Final = "97"

QUERY_REQUEST_FIELDS: Final = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionDate",
    "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)
QUERY_RESPONSE_FIELDS: Final = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount",
    "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
    "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount",
)


# ---- encodings ---------------------------------------------------------------------------------------------------


def format_time(at: datetime) -> str:
    return at.astimezone(VN_TZ).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """``yyyyMMddHHmmss`` in GMT+7; ValueError when it is not one."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"not a yyyyMMddHHmmss time: {text!r}")
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=VN_TZ)


def encode_amount(amount_vnd: int) -> str:
    if amount_vnd < 0:
        raise ValueError("an amount is never negative")
    return str(amount_vnd * 100)


def decode_amount(text: str) -> int:
    """VND from ``vnp_Amount``; ValueError for anything but a whole number of đồng × 100."""
    if not text.isdigit() or len(text) > 15 or int(text) % 100:
        raise ValueError(f"not an amount in VND × 100: {text!r}")
    return int(text) // 100


# ---- signatures --------------------------------------------------------------------------------------------------


def canonical_query(params: Mapping[str, str]) -> str:
    """The signed text of a URL's parameters (also the query string that carries them)."""
    signed = sorted((k, v) for k, v in params.items()
                    if k.startswith("vnp_") and k not in (HASH_FIELD, HASH_TYPE_FIELD) and v != "")
    return "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in signed)


def hmac_sha512(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The query string of a URL: the canonical parameters and their ``vnp_SecureHash``."""
    text = canonical_query(params)
    return f"{text}&{HASH_FIELD}={hmac_sha512(secret, text)}"


def sign_params(params: Mapping[str, str], secret: str) -> dict[str, str]:
    return {**params, HASH_FIELD: hmac_sha512(secret, canonical_query(params))}


def params_signed(params: Mapping[str, str], secret: str) -> bool:
    given = params.get(HASH_FIELD, "")
    return hmac.compare_digest(given.lower().encode(), hmac_sha512(secret, canonical_query(params)).encode())


def fields_hash(values: Mapping[str, str], fields: tuple[str, ...], secret: str) -> str:
    """The query API's signature: the named fields' values joined by ``|`` (a missing one as empty)."""
    return hmac_sha512(secret, "|".join(str(values.get(f, "")) for f in fields))


def fields_signed(values: Mapping[str, str], fields: tuple[str, ...], secret: str) -> bool:
    given = str(values.get(HASH_FIELD, ""))
    return hmac.compare_digest(given.lower().encode(), fields_hash(values, fields, secret).encode())


# ---- messages ----------------------------------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PayRequest(_Message):
    """What the merchant puts in the payment URL (``vnp_Command=pay``)."""

    tmn_code: str
    amount_vnd: int
    txn_ref: str
    order_info: str
    return_url: str
    ip_addr: str
    created_at: datetime
    expires_at: datetime
    order_type: str = "other"
    locale: str = "vn"

    def params(self) -> dict[str, str]:
        return {
            "vnp_Version": VERSION, "vnp_Command": PAY_COMMAND, "vnp_TmnCode": self.tmn_code,
            "vnp_Amount": encode_amount(self.amount_vnd), "vnp_CurrCode": CURRENCY, "vnp_TxnRef": self.txn_ref,
            "vnp_OrderInfo": self.order_info, "vnp_OrderType": self.order_type, "vnp_Locale": self.locale,
            "vnp_ReturnUrl": self.return_url, "vnp_IpAddr": self.ip_addr,
            "vnp_CreateDate": format_time(self.created_at), "vnp_ExpireDate": format_time(self.expires_at),
        }

    def url(self, gateway_url: str, secret: str) -> str:
        return f"{gateway_url}?{signed_query(self.params(), secret)}"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PayRequest:
        """The request a payment URL carries (its signature checked separately); ValueError when malformed."""
        try:
            if params["vnp_Command"] != PAY_COMMAND or params["vnp_CurrCode"] != CURRENCY:
                raise ValueError("only vnp_Command=pay in VND")
            return cls(tmn_code=params["vnp_TmnCode"], amount_vnd=decode_amount(params["vnp_Amount"]),
                       txn_ref=params["vnp_TxnRef"], order_info=params["vnp_OrderInfo"],
                       return_url=params["vnp_ReturnUrl"], ip_addr=params["vnp_IpAddr"],
                       created_at=parse_time(params["vnp_CreateDate"]),
                       expires_at=parse_time(params["vnp_ExpireDate"]),
                       order_type=params.get("vnp_OrderType", "other"), locale=params.get("vnp_Locale", "vn"))
        except KeyError as missing:
            raise ValueError(f"missing parameter {missing}") from missing


class PaymentResult(_Message):
    """What the gateway sends back, to the browser's return URL and to the merchant's IPN URL alike."""

    tmn_code: str
    amount_vnd: int
    txn_ref: str
    transaction_no: str
    response_code: str
    transaction_status: str
    pay_date: datetime
    order_info: str
    bank_code: str = ""

    @property
    def succeeded(self) -> bool:
        return self.response_code == PAID and self.transaction_status == PAID

    def params(self) -> dict[str, str]:
        return {
            "vnp_TmnCode": self.tmn_code, "vnp_Amount": encode_amount(self.amount_vnd), "vnp_BankCode": self.bank_code,
            "vnp_TransactionNo": self.transaction_no, "vnp_ResponseCode": self.response_code,
            "vnp_TransactionStatus": self.transaction_status, "vnp_TxnRef": self.txn_ref,
            "vnp_PayDate": format_time(self.pay_date), "vnp_OrderInfo": self.order_info,
        }

    def signed_params(self, secret: str) -> dict[str, str]:
        return {**sign_params(self.params(), secret), HASH_TYPE_FIELD: "HmacSHA512"}

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PaymentResult:
        try:
            return cls(tmn_code=params["vnp_TmnCode"], amount_vnd=decode_amount(params["vnp_Amount"]),
                       txn_ref=params["vnp_TxnRef"], transaction_no=params["vnp_TransactionNo"],
                       response_code=params["vnp_ResponseCode"],
                       transaction_status=params["vnp_TransactionStatus"],
                       pay_date=parse_time(params["vnp_PayDate"]), order_info=params.get("vnp_OrderInfo", ""),
                       bank_code=params.get("vnp_BankCode", ""))
        except KeyError as missing:
            raise ValueError(f"missing parameter {missing}") from missing


class CallbackRefused(Exception):
    """A return or IPN call that is not the gateway's, or not now: answered with ``code``, nothing written."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def verify_callback(params: Mapping[str, str], *, secret: str, tmn_code: str, now: datetime,
                    replay_window: timedelta = DEFAULT_REPLAY_WINDOW) -> PaymentResult:
    """The checks that need no order: signature, merchant, well-formed, and ``vnp_PayDate`` within the window."""
    if not params_signed(params, secret):
        raise CallbackRefused(RSP_INVALID_SIGNATURE, "vnp_SecureHash does not sign these parameters")
    try:
        result = PaymentResult.parse(params)
    except ValueError as error:
        raise CallbackRefused(RSP_INVALID_SIGNATURE, f"malformed callback: {error}") from error
    if result.tmn_code != tmn_code:
        raise CallbackRefused(RSP_INVALID_SIGNATURE, f"vnp_TmnCode {result.tmn_code} is not this merchant")
    if abs(now - result.pay_date) > replay_window:
        raise CallbackRefused(RSP_INVALID_SIGNATURE, f"vnp_PayDate {format_time(result.pay_date)} is outside the"
                                                     f" replay window of {replay_window}")
    return result


def ipn_answer(code: str, message: str | None = None) -> dict[str, str]:
    return {"RspCode": code, "Message": message or IPN_MESSAGES[code]}


def query_request(*, request_id: str, tmn_code: str, txn_ref: str, order_info: str, transaction_date: datetime,
                  now: datetime, ip_addr: str, secret: str) -> dict[str, str]:
    """A signed ``querydr`` request body: what the gateway knows of the order ``txn_ref``."""
    body = {"vnp_RequestId": request_id, "vnp_Version": VERSION, "vnp_Command": QUERY_COMMAND,
            "vnp_TmnCode": tmn_code, "vnp_TxnRef": txn_ref, "vnp_OrderInfo": order_info,
            "vnp_TransactionDate": format_time(transaction_date), "vnp_CreateDate": format_time(now),
            "vnp_IpAddr": ip_addr}
    return {**body, HASH_FIELD: fields_hash(body, QUERY_REQUEST_FIELDS, secret)}


def query_response(values: Mapping[str, str], secret: str) -> dict[str, str]:
    """A signed ``querydr`` answer (the gateway's side)."""
    body = {f: str(values.get(f, "")) for f in QUERY_RESPONSE_FIELDS}
    return {**body, HASH_FIELD: fields_hash(body, QUERY_RESPONSE_FIELDS, secret)}

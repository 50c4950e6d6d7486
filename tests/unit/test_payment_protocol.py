"""The gateway protocol: canonical query strings, HMAC-SHA512 signatures, amounts, times, the replay window; and
cutru's gateway settings."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl, urlsplit

import pytest

from activities.payment import (
    GATEWAY_ENV,
    GatewayConfig,
    GatewayConfigError,
    HttpPaymentGateway,
    LocalPaymentGateway,
)
from cutru.platform.config import Settings
from cutru.service.worker import configured_gateway
from domain import payment_protocol as vnp

if TYPE_CHECKING:
    import asyncpg

SECRET = "SECRETKEYFORTESTS"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def result(**changes: object) -> vnp.PaymentResult:
    fields: dict[str, object] = {
        "tmn_code": "CUTRU001", "amount_vnd": 15_000, "txn_ref": "PAY-G01-ABC123", "transaction_no": "14000001",
        "response_code": "00", "transaction_status": "00", "pay_date": NOW - timedelta(minutes=1),
        "order_info": "Le phi ho so G01-ABC123", "bank_code": "NCB",
    }
    return vnp.PaymentResult.model_validate(fields | changes)


def test_the_canonical_query_is_sorted_form_encoded_and_leaves_out_the_hash_and_empty_values():
    params = {"vnp_TxnRef": "5", "vnp_Amount": "1806000", "vnp_OrderInfo": "Thanh toan don hang :5",
              "vnp_ReturnUrl": "https://merchant.vn/ReturnUrl", "vnp_BankCode": "", "other": "x",
              "vnp_SecureHash": "abc", "vnp_SecureHashType": "HmacSHA512"}
    assert vnp.canonical_query(params) == (
        "vnp_Amount=1806000&vnp_OrderInfo=Thanh+toan+don+hang+%3A5"
        "&vnp_ReturnUrl=https%3A%2F%2Fmerchant.vn%2FReturnUrl&vnp_TxnRef=5")


def test_the_signature_is_hmac_sha512_of_the_canonical_query():
    params = {"vnp_B": "2", "vnp_A": "một"}
    expected = hmac.new(SECRET.encode(), b"vnp_A=m%E1%BB%99t&vnp_B=2", hashlib.sha512).hexdigest()
    assert vnp.sign_params(params, SECRET)[vnp.HASH_FIELD] == expected
    assert vnp.signed_query(params, SECRET).endswith(f"&vnp_SecureHash={expected}")


def test_a_payment_url_carries_what_it_signs():
    request = vnp.PayRequest(tmn_code="CUTRU001", amount_vnd=15_000, txn_ref="PAY-G01-ABC123",
                             order_info="Le phi ho so G01-ABC123", return_url="http://127.0.0.1:8000/r",
                             ip_addr="127.0.0.1", created_at=NOW, expires_at=NOW + timedelta(minutes=15))
    url = request.url("http://gw/paymentv2/vpcpay.html", SECRET)
    params = dict(parse_qsl(urlsplit(url).query))
    assert vnp.params_signed(params, SECRET)
    assert params["vnp_Amount"] == "1500000"
    assert params["vnp_CreateDate"] == "20261206190000"  # GMT+7
    assert vnp.PayRequest.parse(params) == request
    assert not vnp.params_signed(params | {"vnp_Amount": "100"}, SECRET)
    assert not vnp.params_signed(params, "another secret")


@pytest.mark.parametrize("text", ["150", "-100", "1e5", "", "12.00"])
def test_an_amount_is_a_whole_number_of_dong_times_100(text: str):
    with pytest.raises(ValueError, match="VND"):
        vnp.decode_amount(text)


def test_amounts_and_times_round_trip():
    assert vnp.decode_amount(vnp.encode_amount(2_000_000)) == 2_000_000
    assert vnp.parse_time(vnp.format_time(NOW)) == NOW
    with pytest.raises(ValueError, match="yyyyMMddHHmmss"):
        vnp.parse_time("2026-12-06")


def test_a_signed_callback_within_the_window_is_accepted():
    params = result().signed_params(SECRET)
    assert vnp.verify_callback(params, secret=SECRET, tmn_code="CUTRU001", now=NOW) == result()
    assert result().succeeded
    assert not result(response_code="24", transaction_status="02").succeeded


@pytest.mark.parametrize(("params", "why"), [
    (result().signed_params(SECRET) | {"vnp_Amount": "100"}, "does not sign"),
    (result().signed_params("wrong"), "does not sign"),
    ({k: v for k, v in result().signed_params(SECRET).items() if k != vnp.HASH_FIELD}, "does not sign"),
    (result(tmn_code="OTHER001").signed_params(SECRET), "not this merchant"),
    (result(pay_date=NOW - timedelta(minutes=16)).signed_params(SECRET), "replay window"),
    (result(pay_date=NOW + timedelta(minutes=16)).signed_params(SECRET), "replay window"),
    (vnp.sign_params({"vnp_TmnCode": "CUTRU001", "vnp_Amount": "100"}, SECRET), "malformed"),
])
def test_a_forged_foreign_stale_or_malformed_callback_is_refused_as_invalid(params: dict[str, str], why: str):
    with pytest.raises(vnp.CallbackRefused, match=why) as refused:
        vnp.verify_callback(params, secret=SECRET, tmn_code="CUTRU001", now=NOW)
    assert refused.value.code == vnp.RSP_INVALID_SIGNATURE


def test_the_replay_window_is_configurable():
    params = result(pay_date=NOW - timedelta(minutes=16)).signed_params(SECRET)
    assert vnp.verify_callback(params, secret=SECRET, tmn_code="CUTRU001", now=NOW,
                               replay_window=timedelta(minutes=30)).transaction_no == "14000001"


def test_the_query_api_signs_its_fields_joined_by_a_bar_in_the_protocols_order():
    request = vnp.query_request(request_id="r1", tmn_code="CUTRU001", txn_ref="PAY-X", order_info="info",
                                transaction_date=NOW, now=NOW, ip_addr="127.0.0.1", secret=SECRET)
    text = "r1|2.1.0|querydr|CUTRU001|PAY-X|20261206190000|20261206190000|127.0.0.1|info"
    assert request[vnp.HASH_FIELD] == hmac.new(SECRET.encode(), text.encode(), hashlib.sha512).hexdigest()
    assert vnp.fields_signed(request, vnp.QUERY_REQUEST_FIELDS, SECRET)
    assert not vnp.fields_signed(request | {"vnp_TxnRef": "PAY-Y"}, vnp.QUERY_REQUEST_FIELDS, SECRET)
    answer = vnp.query_response({"vnp_ResponseCode": "91", "vnp_TxnRef": "PAY-X"}, SECRET)
    assert vnp.fields_signed(answer, vnp.QUERY_RESPONSE_FIELDS, SECRET)
    assert not vnp.fields_signed(answer | {"vnp_TransactionStatus": "00"}, vnp.QUERY_RESPONSE_FIELDS, SECRET)


def test_an_ipn_answer_names_its_code():
    assert vnp.ipn_answer(vnp.RSP_CONFIRMED) == {"RspCode": "00", "Message": "Confirm Success"}
    assert vnp.ipn_answer(vnp.RSP_ALREADY_CONFIRMED)["Message"] == "Order already confirmed"


# ---- cutru's gateway settings -------------------------------------------------------------------------------------


def test_the_http_gateway_is_configured_by_three_variables_and_defaults_the_rest():
    assert GatewayConfig.from_env({}) is None
    config = GatewayConfig.from_env({"CUTRU_PAYMENT_GATEWAY_URL": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
                                     "CUTRU_PAYMENT_TMN_CODE": "CUTRU001", "CUTRU_PAYMENT_HASH_SECRET": SECRET,
                                     "CUTRU_PAYMENT_REPLAY_WINDOW": "PT5M"}, order_expiry=timedelta(hours=1))
    assert config is not None
    assert config.query_endpoint == "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
    assert config.replay_window == timedelta(minutes=5) and config.order_expiry == timedelta(hours=1)
    assert SECRET not in repr(config)


@pytest.mark.parametrize(("environ", "named"), [
    ({"CUTRU_PAYMENT_GATEWAY_URL": "https://gw/pay"}, "CUTRU_PAYMENT_TMN_CODE and CUTRU_PAYMENT_HASH_SECRET"),
    ({"CUTRU_PAYMENT_GATEWAY_URL": "https://gw/pay", "CUTRU_PAYMENT_TMN_CODE": "C", "CUTRU_PAYMENT_HASH_SECRET": "s"},
     "CUTRU_PAYMENT_HASH_SECRET"),
    ({"CUTRU_PAYMENT_GATEWAY_URL": "gw/pay", "CUTRU_PAYMENT_TMN_CODE": "C", "CUTRU_PAYMENT_HASH_SECRET": SECRET},
     "CUTRU_PAYMENT_GATEWAY_URL"),
])
def test_a_half_or_badly_configured_gateway_names_the_variable(environ: dict[str, str], named: str):
    with pytest.raises(GatewayConfigError, match=named):
        GatewayConfig.from_env(environ)


def test_the_worker_takes_the_http_gateway_when_it_is_configured(monkeypatch: pytest.MonkeyPatch):
    settings = Settings()
    for var in GATEWAY_ENV.values():
        monkeypatch.delenv(var, raising=False)
    assert configured_gateway(settings) is LocalPaymentGateway
    monkeypatch.setenv("CUTRU_PAYMENT_GATEWAY_URL", "http://127.0.0.1:8100/paymentv2/vpcpay.html")
    monkeypatch.setenv("CUTRU_PAYMENT_TMN_CODE", "CUTRU001")
    monkeypatch.setenv("CUTRU_PAYMENT_HASH_SECRET", SECRET)
    gateway = configured_gateway(settings)(cast("asyncpg.Pool", None))
    assert isinstance(gateway, HttpPaymentGateway)

"""The citizens' messages: every step renders in Vietnamese on both channels; an SMS never carries a 12-digit
number; the Standard Webhooks signature is the specification's."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date

import pytest
from pydantic import ValidationError

from cutru.service.worker import outbox_backoff
from domain import webhooks
from domain.kinds import DocumentKind
from domain.models import Contact
from domain.notifications import MessageFacts, NotificationKind, PersonalIdInSms, message_id, render, unaccented

PERSONAL_ID = "001190012345"


def facts(kind: NotificationKind, **changes: object) -> MessageFacts:
    values: dict[str, object] = {
        "kind": kind, "dossier_code": "G01.99-261206-0001", "procedure_name": "Đăng ký thường trú",
        "unit_name": "Công an Phường Hoàn Kiếm", "full_name": "Nguyễn Thị Ánh Tuyết", "personal_id": PERSONAL_ID,
        "detail": "Hợp đồng thuê nhà", "appointment": date(2026, 12, 14), "amount_vnd": 20_000,
        "payment_link": "https://pay.example/p?x=1", "documents": (DocumentKind.CT08,),
        "tracking_number": "EB123456785VN"}
    return MessageFacts.model_validate(values | changes)


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_step_renders_on_both_channels(kind: NotificationKind):
    mail = render(facts(kind), "email")
    sms = render(facts(kind), "sms")
    assert "G01.99-261206-0001" in mail.subject and mail.body.startswith("Kính gửi Nguyễn Thị Ánh Tuyết,")
    assert "G01.99-261206-0001" in sms.body and sms.body.isascii() and "\n" not in sms.body
    assert len(sms.body) <= 160 * 2  # at most two segments of an unaccented SMS


def test_the_steps_say_what_the_citizen_needs():
    assert "Ngày hẹn trả kết quả: 14/12/2026." in render(facts(NotificationKind.ACCEPTED), "email").body
    assert "Hen tra ket qua ngay 14/12/2026" in render(facts(NotificationKind.ACCEPTED), "sms").body
    fee = render(facts(NotificationKind.FEE_DUE), "email").body
    assert "20.000 đồng" in fee and "https://pay.example/p?x=1" in fee
    assert "EB123456785VN" in render(facts(NotificationKind.DISPATCHED), "sms").body
    assert "(CT08)" in render(facts(NotificationKind.COMPLETED), "email").body


def test_an_sms_with_a_personal_id_is_not_sent():
    with pytest.raises(PersonalIdInSms):
        render(facts(NotificationKind.DISPATCHED, tracking_number=PERSONAL_ID), "sms")
    with pytest.raises(PersonalIdInSms):
        render(facts(NotificationKind.ACCEPTED, dossier_code="HS-079123456789"), "sms")
    # The e-mail names the person; the SMS never names the ID, whatever the officer wrote.
    refused = facts(NotificationKind.REFUSED, detail=f"CCCD {PERSONAL_ID} không khớp")
    assert PERSONAL_ID not in render(refused, "sms").body


def test_message_ids_and_unaccenting():
    assert message_id("HS-1", "fee_due", "email", "dvc.test") == "<HS-1.fee_due.email@dvc.test>"
    assert unaccented("Đã tiếp nhận hồ sơ Đăng ký") == "Da tiep nhan ho so Dang ky"


def test_a_contact_needs_the_address_of_its_channel():
    assert Contact().channel == "portal"
    with pytest.raises(ValidationError, match="contact.email"):
        Contact(channel="email")
    with pytest.raises(ValidationError, match="contact.phone"):
        Contact(channel="sms", email="a@b.vn")
    assert Contact(channel="sms", phone="+84912345678").phone == "+84912345678"


def test_the_webhook_signature_is_the_standard_webhooks_one():
    secret = webhooks.new_secret()
    body = b'{"type":"dossier.received"}'
    expected = base64.b64encode(hmac.new(base64.b64decode(secret[6:]), b"msg_1.1700000000." + body,
                                         hashlib.sha256).digest()).decode()
    signed = webhooks.headers(secret, "msg_1", 1_700_000_000, body)
    assert signed["webhook-signature"] == f"v1,{expected}"
    assert webhooks.verify(secret, signed, body, now=1_700_000_100)
    assert not webhooks.verify(secret, signed, body + b" ", now=1_700_000_100)
    assert not webhooks.verify(secret, signed, body, now=1_700_000_000 + webhooks.TOLERANCE_SECONDS + 1)
    assert not webhooks.verify(webhooks.new_secret(), signed, body, now=1_700_000_100)


def test_the_outbox_retries_are_read_in_seconds():
    backoff = outbox_backoff({"CUTRU_OUTBOX_RETRY_FIRST": "0.5", "CUTRU_OUTBOX_RETRY_LONGEST": "4",
                              "CUTRU_EVENT_ATTEMPTS": "3"})
    assert [backoff.after(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.attempts == 3
    with pytest.raises(ValueError, match="CUTRU_OUTBOX_RETRY_FIRST must be a number"):
        outbox_backoff({"CUTRU_OUTBOX_RETRY_FIRST": "PT2S"})

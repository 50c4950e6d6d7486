"""Every finding of the checks and every kind of trail detail reads in Vietnamese on the desk: each sentence the
domain writes is matched by a wording of its kind, no wording is left unused, and nothing English is left over."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cutru.api.desk.wording import (
    AS_WRITTEN,
    BY_REFUSALS,
    FINDINGS,
    MESSAGE_LABELS,
    MESSAGES,
    REFUSALS,
    TRAIL,
    Wording,
    finding_vi,
    message_vi,
    trail_detail_vi,
)
from domain.envelopes import Envelope, sign, signature_problem
from domain.facts import (
    HouseholdFacts,
    MemberFacts,
    MembershipFacts,
    PersonFacts,
    PersonRecords,
    RecordFacts,
    ResidenceFacts,
)
from domain.models import (
    DecisionKind,
    OfficerDecision,
    Position,
    Reassignment,
    Signer,
    SignOff,
    SignOffKind,
    TrailAction,
)
from domain.procedures.common import late_filing_note
from domain.procedures.deletion import UNCONFIRMED_CASE_NOTE, ex_officio_note
from domain.procedures.permanent_residence_registration import (
    COMMUNE_COMMITTEE_NOTE,
    OVERSEAS_NOTE,
    RELATIONSHIP_PROOF_NOTE,
)
from domain.procedures.stay_notification import late_stay_note
from workflows.lifecycle import TOO_LATE, UNENCRYPTED

# English left over: words of the sentences the domain writes, none of them Vietnamese.
ENGLISH = re.compile(r"\b(the|of|and|is|was|by|in|to|until|record|residence|owner|members?|declared|notice|filed|"
                     r"due|late|dossier|officer|signed|not|yes|no|deadline|guest|order|VND|unit|day|reason|missing)\b",
                     re.IGNORECASE)
PERSON = PersonFacts(personal_id="001190000001", full_name="Nguyễn Văn An", birth_date=date(1990, 1, 1), sex="male",
                     status="alive", full_civil_capacity=True)


def record(record_id: int, valid_to: date | None = None) -> RecordFacts:
    return RecordFacts(record_id=record_id, residence_id=7, province_code="01", commune_code="00070",
                       address_line="Số 5 phố Huế", valid_from=date(2020, 1, 1), valid_to=valid_to)


def findings() -> list[str]:
    """Every kind of finding the domain writes, from its own producers."""
    member = MemberFacts(personal_id=PERSON.personal_id, full_name=PERSON.full_name, relation_to_head="head",
                         birth_date=PERSON.birth_date, status="alive", full_civil_capacity=True)
    everything = HouseholdFacts(
        applicant=PERSON,
        residence=ResidenceFacts(residence_id=7, owner_id=None, floor_area_m2=Decimal("42.5"),
                                 barred_reason="đất lấn chiếm", household_id=3, household_head_id=PERSON.personal_id,
                                 member_count=2),
        current_permanent_residence_id=7,
        records=PersonRecords(personal_id=PERSON.personal_id, permanent=record(1),
                              temporary=record(2, date(2027, 1, 1)), declaration=record(3),
                              absence_declared_until=date(2027, 6, 30),
                              household=MembershipFacts(household_id=3, residence_id=7, commune_code="00070",
                                                        head_id=PERSON.personal_id, owner_id=None, members=(member,))),
        notes=(late_filing_note(date(2026, 1, 2), date(2026, 3, 1), 30, "Luật Cư trú 2020, Điều 27 khoản 4") or "",
               ex_officio_note("12/TB-CA", date(2026, 11, 2)), UNCONFIRMED_CASE_NOTE, RELATIONSHIP_PROOF_NOTE,
               OVERSEAS_NOTE, COMMUNE_COMMITTEE_NOTE, late_stay_note(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))),
    )
    dead_without_records = HouseholdFacts(
        applicant=PERSON.model_copy(update={"status": "dead", "full_civil_capacity": False}),
        residence=ResidenceFacts(residence_id=8, owner_id=PERSON.personal_id, floor_area_m2=Decimal(30),
                                 barred_reason=None, household_id=None, household_head_id=None, member_count=0),
        records=PersonRecords(personal_id=PERSON.personal_id))
    return [*everything.findings(), *dead_without_records.findings()]


def refusals() -> list[str]:
    """The reasons a message to a dossier is refused: the envelopes' own, and the workflows' sentences."""
    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    signer = Signer(officer_id="CB-00070-00", full_name="Lê Văn Trưởng", position=Position.HEAD, unit_code="CA-00070")
    decision = OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE)
    messages: list[Envelope] = [
        decision, Reassignment(supervisor_id="CB-00070-00", officer_id="CB-00070-02", reason="Nghỉ phép"),
        SignOff(signer=signer, decision=SignOffKind.SIGN)]
    key = {"k1": b"0" * 32}
    problems: list[str | None] = []
    for message in messages:
        problems.append(signature_problem(message, dossier_code="HS-000001", now=now, keys=key))
        signed = message.model_copy(update={"signature": "x", "key_id": "k2", "signed_at": now, "token_id": "t",
                                            "dossier_code": "HS-000001"})
        problems.append(signature_problem(signed, dossier_code="HS-000001", now=now, keys=key))
        problems.append(signature_problem(signed.model_copy(update={"key_id": "k1"}), dossier_code="HS-000001",
                                          now=now, keys=key))
    late, early = now + timedelta(hours=1), now - timedelta(days=3)
    for code, signed_at in (("HS-000002", now), ("HS-000001", late), ("HS-000001", early)):
        signed = sign(decision, dossier_code=code, signed_at=signed_at, token_id="t-1", key_id="k1",
                               key=key["k1"])
        problems.append(signature_problem(signed, dossier_code="HS-000001", now=now, keys=key,
                                          max_age=timedelta(days=1)))
    return [p for p in problems if p is not None] + [
        "dossier HS-1 is awaiting_payment, not waiting for an officer's decision",
        "officer CB-00071-01 is not an officer of CA-00070, the unit handling HS-1",
        "officer CB-00070-03 is inactive and cannot decide",
        "token t-1 was already used on dossier HS-1: sign a new request", "no message", UNENCRYPTED,
        "the fee was already paid", TOO_LATE, "a dossier opened by a police notice cannot be withdrawn",
        "the dossier's submission is not valid: there is nothing to withdraw",
        "a withdrawal names the applicant's personal ID, as the portal verified it",
        "only the dossier's applicant can withdraw it",
        "dossier HS-1 is not a police notice waiting for the person's own filing", "no dossier HS-2 was filed",
        "HS-1 is the police notice's own dossier, not a filing",
        "dossier HS-2 is a TemporaryResidenceDeletion, not a PermanentResidenceDeletion",
        "dossier HS-2 was not filed by the person the notice names",
        "dossier HS-2 is cancelled: it does not stand for the person's filing",
        "dossier HS-000001 has taken its 200 messages: it takes only those that move it on (a decision, a sign-off, "
        "an operator's close)",
    ]


# The details the workflows write, one for each wording of each action (``workflows.lifecycle``, ``procedures``,
# ``stay_register``).
TRAIL_DETAILS: dict[TrailAction, list[str]] = {
    TrailAction.NOTICE_SERVED: ["notice 12/TB-CA of 2026-11-02"],
    TrailAction.ACCEPTED: ["appointment 2026-12-16T10:00:00+00:00"],
    TrailAction.REASSIGNED: ["to CB-00070-02: Cán bộ nghỉ phép"],
    TrailAction.REMINDER_SENT: ["deadline 2026-12-16T10:00:00+00:00"],
    TrailAction.ESCALATED: ["deadline passed: escalated to supervisor CB-00070-00",
                            "deadline passed: escalated to supervisor None"],
    TrailAction.SIGNED_OFF: ["Trưởng Công an Phường Hoàn Kiếm, Lê Văn Trưởng; proposed by CB-00070-01"],
    TrailAction.RETURNED: ["to CB-00070-01: Cần xác minh chỗ ở"],
    TrailAction.FEE_PAID: ["20000 VND, order PAY-123"],
    TrailAction.STAY_NOTIFIED: ["LT.00070-261207-1: 3 guest(s)"],
    TrailAction.CANCELLED: ["fee not paid in time; the dossier is cancelled", "no supplement within the time allowed",
                            "filed in time as dossier HS-2: no ex officio deletion",
                            "closed: Công dân đề nghị hủy",
                            "closed: Trùng hồ sơ; the fee of 20000 VND was paid (order PAY-9) and is to be refunded"],
    TrailAction.MESSAGES_REFUSED: ["200 messages taken: from here on only those that move the dossier on are taken"],
    TrailAction.STEP_FAILED: ["deliver_result: KeyError: 'CT08'; no retry mends it: an operator closes the dossier "
                              "with a reason (cutru close)"],
    TrailAction.COMPLETED: ["LT.00070-261207-1", "LT.00070-261207-2; stay_too_long; unknown_guest"],
}


def _used(wordings: tuple[Wording, ...], texts: list[str]) -> set[str]:
    """The kinds of ``wordings`` the texts are, each text matched by one."""
    used = set()
    for text in texts:
        kinds = [wording.kind for wording in wordings if wording.say(text) is not None]
        assert kinds, f"no Vietnamese wording for: {text}"
        used.add(kinds[0])
    return used


def test_every_finding_reads_in_vietnamese():
    written = findings()
    assert _used(FINDINGS, written) == {wording.kind for wording in FINDINGS}  # each kind met, none left unused
    for text in written:
        assert not ENGLISH.search(finding_vi(text)), finding_vi(text)
    assert finding_vi(written[0]) == ("Người đề nghị trong Cơ sở dữ liệu quốc gia về dân cư: còn sống, năng lực hành "
                                      "vi dân sự đầy đủ: có")
    assert "diện tích sàn 42,5 m², 2 người đang đăng ký cư trú, chủ sở hữu chưa được ghi nhận, hạn chế đăng ký: " \
           "đất lấn chiếm" in finding_vi(written[1])
    assert finding_vi(written[4]) == "Đăng ký tạm trú số 2 tại Phường Hoàn Kiếm, đến ngày 01/01/2027"


def test_every_kind_of_trail_detail_reads_in_vietnamese():
    assert set(TrailAction) == set(TRAIL) | AS_WRITTEN | BY_REFUSALS  # every action has its wording
    refused = refusals()
    assert _used(REFUSALS, refused) == {wording.kind for wording in REFUSALS}
    for action, wordings in TRAIL.items():
        if wordings is REFUSALS:
            continue
        assert _used(wordings, TRAIL_DETAILS[action]) == {wording.kind for wording in wordings}, action
    said = [trail_detail_vi(action, detail) for action, details in TRAIL_DETAILS.items() for detail in details]
    said += [trail_detail_vi(TrailAction.DECISION_REFUSED, problem) for problem in refused]
    for text in said:
        assert not ENGLISH.search(text), text
    assert trail_detail_vi("accepted", "appointment 2026-12-16T10:00:00+00:00") \
        == "Hẹn trả kết quả: 17:00 16/12/2026 (GMT+7)"
    assert trail_detail_vi("fee_paid", "20000 VND, order PAY-123") == "20.000 đồng, mã thanh toán PAY-123"

    # What officers and citizens wrote stays as written; refusals read as the dossier's Vietnamese has them.
    assert trail_detail_vi("approved", "Đủ điều kiện") == "Đủ điều kiện"
    english = {"the floor area is too small": "Diện tích sàn không đủ", "the owner did not consent": "Chủ chưa đồng ý"}
    assert trail_detail_vi("refused", "; ".join(english), english) == "Diện tích sàn không đủ; Chủ chưa đồng ý"
    # A line of no known wording says what it is in Vietnamese, the recorded text kept as technical detail.
    assert trail_detail_vi("decision_refused", "decision: Input should be 'approve'").startswith("Chi tiết (ghi nhận")


def test_every_replayed_message_reads_in_vietnamese():
    details = {
        "submitted": "PermanentResidenceRegistration: Nguyễn Văn An (0011******01), unit CA-00070",
        "register_opened": "LT-CA-00070-ab12-20261207: unit CA-00070, day 2026-12-07",
        "stay_notified": "LT.00070-261207-1: 2 guest(s)",
        "payment_confirmed": "20000 VND",
        "decision_signal": "request_supplement; reason: Thiếu giấy tờ; missing: Hợp đồng thuê nhà",
        "update_decide": "approve",
        "update_sign_off": "return: Cần xác minh",
    }
    assert set(MESSAGES) <= set(MESSAGE_LABELS) and set(details) == set(MESSAGES)
    for action, detail in details.items():
        label, said = message_vi(action, detail)
        assert label == MESSAGE_LABELS[action] and not ENGLISH.search(said), (action, said)
    assert message_vi("decision_signal", details["decision_signal"])[1] == \
        "Yêu cầu bổ sung; lý do: Thiếu giấy tờ; còn thiếu: Hợp đồng thuê nhà"

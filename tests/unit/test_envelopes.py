"""Signed envelopes (domain.envelopes) and the decision keys (cutru.platform.signing)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cutru.platform.signing import DecisionKeyError, DecisionKeyRing, main, sign_now
from domain.envelopes import MAX_AGE, canonical_bytes, sign, signature_problem
from domain.models import DecisionKind, OfficerDecision, Reassignment

KEY = secrets.token_bytes(32)
KEYS = {"k1": KEY}
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
CODE = "HS-TEST-0000000001"
APPROVE = OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE)


def signed(decision: OfficerDecision = APPROVE, *, at: datetime = NOW, code: str = CODE) -> OfficerDecision:
    return sign(decision, dossier_code=code, signed_at=at, token_id="jti-1", key_id="k1", key=KEY)


def problem(message: OfficerDecision | Reassignment, *, now: datetime = NOW, code: str = CODE) -> str | None:
    return signature_problem(message, dossier_code=code, now=now, keys=KEYS, max_age=MAX_AGE)


def test_a_signed_decision_verifies_and_survives_the_wire() -> None:
    decision = signed()
    assert problem(decision) is None
    wire = OfficerDecision.model_validate_json(decision.model_dump_json())
    assert problem(wire) is None
    # Another time zone for the same instant is the same envelope.
    assert problem(decision.model_copy(update={"signed_at": NOW.astimezone(timezone(timedelta(hours=7)))})) is None


def test_unsigned_unknown_key_and_forged_are_refused() -> None:
    assert "not signed" in (problem(APPROVE) or "")
    assert "does not know" in (problem(signed().model_copy(update={"key_id": "k9"})) or "")
    other_key = sign(APPROVE, dossier_code=CODE, signed_at=NOW, token_id="jti-1", key_id="k1",
                              key=secrets.token_bytes(32))
    assert "does not verify" in (problem(other_key) or "")


@pytest.mark.parametrize("change", [
    {"officer_id": "CB-00070-02"}, {"decision": DecisionKind.REJECT, "reason": "giả"}, {"token_id": "jti-2"},
    {"signed_at": NOW + timedelta(seconds=1)}, {"missing_items": ("CT01",)},
])
def test_any_changed_field_breaks_the_signature(change: dict[str, object]) -> None:
    assert "does not verify" in (problem(signed().model_copy(update=change)) or "")


def test_other_dossier_expired_and_future_envelopes_are_refused() -> None:
    assert "signed for dossier" in (problem(signed(), code="HS-TEST-0000000002") or "")
    assert "expired" in (problem(signed(), now=NOW + MAX_AGE + timedelta(seconds=1)) or "")
    assert problem(signed(), now=NOW + MAX_AGE) is None
    assert "future" in (problem(signed(at=NOW + timedelta(minutes=2))) or "")


def test_a_decision_signature_never_verifies_a_reassignment() -> None:
    reassignment = sign(
        Reassignment(supervisor_id="CB-00070-00", officer_id="CB-00070-02", reason="nghỉ phép"),
        dossier_code=CODE, signed_at=NOW, token_id="jti-1", key_id="k1", key=KEY)
    assert problem(reassignment) is None
    assert b'"kind":"Reassignment"' in canonical_bytes(reassignment)
    assert canonical_bytes(reassignment) != canonical_bytes(signed())


def test_sign_now_uses_the_active_key() -> None:
    ring = DecisionKeyRing([("new", secrets.token_bytes(32)), ("old", KEY)])
    decision = sign_now(ring, APPROVE, CODE, "jti-7")
    assert decision.key_id == "new" and decision.token_id == "jti-7" and decision.dossier_code == CODE
    assert signature_problem(decision, dossier_code=CODE, now=datetime.now(UTC), keys=ring.keys,
                             max_age=MAX_AGE) is None
    older = sign(APPROVE, dossier_code=CODE, signed_at=datetime.now(UTC), token_id="jti-8", key_id="old",
                          key=KEY)
    assert signature_problem(older, dossier_code=CODE, now=datetime.now(UTC), keys=ring.keys,
                             max_age=MAX_AGE) is None  # a rotated-out signing key still verifies


def test_key_ring_from_the_environment() -> None:
    ring = DecisionKeyRing.generate("d1")
    parsed = DecisionKeyRing.from_env({"CUTRU_DECISION_KEYS": ring.env_value()})
    assert parsed.keys == ring.keys and parsed.active == ring.active
    with pytest.raises(DecisionKeyError, match=r"CUTRU_DECISION_KEYS is not set.*generate-key"):
        DecisionKeyRing.from_env({})
    with pytest.raises(DecisionKeyError, match="not 32"):
        DecisionKeyRing.from_env({"CUTRU_DECISION_KEYS": "d1:AAAA"})
    with pytest.raises(DecisionKeyError, match="keyid:base64key"):
        DecisionKeyRing.from_env({"CUTRU_DECISION_KEYS": "nokey"})
    assert "d1" not in repr(DecisionKeyRing.generate("d2")) and "d2" in repr(DecisionKeyRing.generate("d2"))


def test_generate_key_prints_an_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-key", "--id", "d2026"]) == 0
    line = capsys.readouterr().out.strip()
    assert DecisionKeyRing.parse(line, "printed").active[0] == "d2026"

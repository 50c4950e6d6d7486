"""Bad inputs for the submission models and every message, and what "handled safely" means for them.

A bad input is a valid submission (or message) with one part broken: a value of the wrong type, a huge string,
odd Unicode (combining marks, right-to-left overrides, NUL, lone surrogates), an SQL fragment, an out-of-range
date, an inconsistent personal ID, a missing or unknown field; or something that is not a submission at all.

The property every boundary must keep: an input is either refused with field-level errors, or accepted only when
everything downstream can take it — PostgreSQL (no NUL in text or jsonb), the JSON of Temporal payloads (no lone
surrogates), the rule sets and the working-day calendar (a receipt date they cover), the timers (timeouts that are
positive, bounded and do not overflow), and the PDF forms (their field limits). An input accepted at the boundary
but rejected downstream is the worst case: a dossier retried forever, i.e. stuck.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from domain.calendar import FIRST_YEAR, LAST_YEAR, local_date
from domain.identity import generate_personal_id
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES

Path = tuple[str | int, ...]
# A fee poll costs about 11 history events (tests/integration/test_limits.py measures it); the default timings make
# 432 polls (3 days every 10 minutes). More than this and an unpaid dossier alone nears the 10,000-event warning.
MAX_FEE_POLLS = 500

_RNG = random.Random(20261127)


def _person(birth: date, sex: str, name: str) -> dict[str, str]:
    return {"personal_id": generate_personal_id(_RNG, "01", birth, sex),  # type: ignore[arg-type]
            "full_name": name, "birth_date": birth.isoformat(), "sex": sex}


APPLICANT = _person(date(1988, 4, 12), "female", "Nguyễn Thị Ánh Tuyết")
OTHER = _person(date(1990, 9, 2), "male", "Trần Văn Bình")
ADDRESS = {"province_code": "01", "commune_code": "00070", "address_line": "Số 12 phố Hàng Bài"}


def base_submission(procedure: Procedure, now: datetime | None = None) -> dict[str, Any]:
    """A valid submission of ``procedure`` received at ``now``, as the portal sends it."""
    now = now or datetime.now(UTC)
    today = local_date(now)
    by_procedure: dict[Procedure, dict[str, Any]] = {
        Procedure.PERMANENT_RESIDENCE_REGISTRATION: {"basis": "own_residence", "residence": ADDRESS},
        Procedure.PERMANENT_RESIDENCE_DELETION: {"subject_id": OTHER["personal_id"], "case": "death",
                                                 "event_date": (today - timedelta(days=2)).isoformat()},
        Procedure.TEMPORARY_RESIDENCE_REGISTRATION: {
            "basis": "rented_or_borrowed", "residence": ADDRESS,
            "requested_until": (today + timedelta(days=180)).isoformat()},
        Procedure.TEMPORARY_RESIDENCE_EXTENSION: {"requested_until": (today + timedelta(days=300)).isoformat()},
        Procedure.TEMPORARY_RESIDENCE_DELETION: {"case": "lost_nationality",
                                                 "event_date": (today - timedelta(days=2)).isoformat()},
        Procedure.HOUSEHOLD_SEPARATION: {"members": [{"personal_id": OTHER["personal_id"],
                                                      "relation_to_new_head": "head"}]},
        Procedure.RESIDENCE_INFO_ADJUSTMENT: {"change": "household_head", "new_head_id": OTHER["personal_id"]},
        Procedure.RESIDENCE_DECLARATION: {"current_place": ADDRESS,
                                          "reason_not_registered": "Chỗ ở là lán trại tạm"},
        Procedure.RESIDENCE_CONFIRMATION: {"purpose": "Bổ sung hồ sơ tuyển dụng"},
        Procedure.STAY_NOTIFICATION: {
            "host_kind": "household", "place": ADDRESS,
            "guests": [{"full_name": "Kim Min Jun", "birth_date": "1991-03-04", "sex": "male",
                        "passport_number": "M1234567"}],
            "arrival": (now - timedelta(minutes=5)).isoformat(),
            "departure": (today + timedelta(days=3)).isoformat(), "reason": "Thăm người thân"},
        Procedure.TEMPORARY_ABSENCE_DECLARATION: {
            "category": "d", "absence_from": (today + timedelta(days=1)).isoformat(),
            "absence_to": (today + timedelta(days=400)).isoformat(), "destination": "Thành phố Hồ Chí Minh",
            "reason": "Đi làm ăn xa"},
    }
    details = by_procedure[procedure]
    return {
        "procedure": procedure.value,
        "dossier_code": "HS-FUZZ-000001",
        "received_at": now.isoformat(),
        "channel": "online",
        "applicant": dict(APPLICANT),
        "police_unit": "CA-00070",
        "declaration_truthful": True,
        "consents": [{"role": "owner", "personal_id": OTHER["personal_id"]}],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": details,
    }


# ---- bad values ------------------------------------------------------------------------------------------------

SQL_FRAGMENTS = (
    "' OR '1'='1", "'; DROP TABLE dossiers; --", "\"; DELETE FROM people; --", "1; SELECT pg_sleep(5)--",
    "$1", "$$; DROP TABLE payments; $$", "E'\\\\x00'", "' UNION SELECT personal_id FROM people --",
    "Robert'); DROP TABLE audit_events;--", "\\'; TRUNCATE residence_changes CASCADE; --",
)
ODD_TEXT = (
    "\x00", "Số 1\x00 Hàng Bài", "\u202eiaB gnàH 1 ốS", "Nguye\u0302\u0303n Thi\u0323", "e" + "\u0301" * 300,
    "\u200b\u200b\u200b", "\ufeffSố 1", "𝕳𝖆 𝕹𝖔𝖎", "\U0010ffff\U0010ffff", "\ud800", "Số \udfff 1", "\r\n\t",
    "%s%n%x", "{0}{1}", "${jndi:ldap://x/a}", "<script>alert(1)</script>", "../../../etc/passwd", "ـ" * 5,
    "שלום עולם", "مرحبا", " ", "", "\x1b[31mred", "\x7f\x08", "😀" * 50,
)
BAD_DATES = (
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "1899-12-31", "2000-01-01", "1900-01-01",
    "not a date", "+10000-01-01", "-0001-01-01", "2026-11-27T10:00:00", "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+14:00", "2000-01-02T12:00:00+07:00", "2019-12-31T12:00:00+07:00",
    "2061-01-02T12:00:00+07:00", "1970-01-01T00:00:00Z", "2026-11-27T25:61:00+07:00",
)
BAD_DURATIONS = ("PT0S", "-PT5S", "P999999999D", "PT0.000001S", "P36500D", "-P1D", "PT-1S", "P1Y", "x")


def huge_text() -> st.SearchStrategy[str]:
    unit = st.sampled_from(["x", "ệ", "'", "\x00", "\u0301", "😀", "; DROP TABLE people; --"])
    return st.builds(lambda u, n: u * n, unit, st.integers(min_value=301, max_value=60_000))


def odd_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ODD_TEXT),
        st.sampled_from(SQL_FRAGMENTS),
        st.text(max_size=40),  # hypothesis draws NUL, surrogates and other edge characters here too
        st.builds(lambda a, b: a + b, st.sampled_from(ODD_TEXT), st.sampled_from(SQL_FRAGMENTS)),
    )


def bad_value() -> st.SearchStrategy[Any]:
    """Any JSON-ish value that is wrong somewhere: types, sizes, characters, dates, durations."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        odd_text(), huge_text(), st.sampled_from(BAD_DATES), st.sampled_from(BAD_DURATIONS),
        st.dates().map(date.isoformat),
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        st.from_regex(r"[0-9]{12}", fullmatch=True),  # a personal ID that rarely agrees with birth date and sex
    )


def not_a_submission() -> st.SearchStrategy[Any]:
    """Whole inputs that are not a submission object at all."""
    return st.one_of(
        st.none(), st.integers(), st.floats(allow_nan=True), odd_text(), st.lists(st.integers(), max_size=4),
        st.dictionaries(odd_text(), bad_value(), max_size=4),
        st.just({}), st.just([]), st.just({"procedure": "PermanentResidenceRegistration"}),
    )


# ---- mutations -------------------------------------------------------------------------------------------------


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every node of a JSON value, as a path of keys and indexes (the root excluded)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def _parent(value: Any, path: Path) -> Any:
    for part in path[:-1]:
        value = value[part]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One broken copy of ``base`` and a short description of what was broken."""
    value = _copy(base)
    path = draw(st.sampled_from(list(paths(value))))
    parent, key = _parent(value, path), path[-1]
    where = ".".join(map(str, path))
    operation = draw(st.sampled_from(("replace", "replace", "replace", "delete", "unknown_key", "grow", "id")))
    if operation == "delete" and isinstance(parent, dict):
        del parent[key]
        return f"deleted {where}", value
    if operation == "unknown_key":
        container = parent if isinstance(parent, dict) else value
        name = draw(st.one_of(st.sampled_from(["is_admin", "status", "$where", "__proto__", "a" * 5000, "x\x00y"]),
                              st.text(min_size=1, max_size=20)))
        container[name] = draw(bad_value())
        return f"unknown field {name[:20]!r} beside {where}", value
    if operation == "grow" and isinstance(parent[key], list) and parent[key]:
        parent[key] = parent[key] * draw(st.integers(min_value=20, max_value=400))
        return f"{where} repeated {len(parent[key])} times", value
    if operation == "id":
        parent[key] = draw(st.from_regex(r"[0-9]{12}", fullmatch=True))
        return f"{where} replaced by a random 12-digit number", value
    parent[key] = draw(bad_value())
    return f"{where} replaced by {str(parent[key])[:40]!r}", value


# ---- what accepted input must satisfy ---------------------------------------------------------------------------


def text_problems(value: Any, where: str = "") -> list[str]:
    """Strings that PostgreSQL (NUL) or JSON encoding (lone surrogates) cannot take, anywhere in ``value``."""
    problems: list[str] = []
    if isinstance(value, str):
        if "\x00" in value:
            problems.append(f"{where or 'value'}: contains NUL, which PostgreSQL text and jsonb refuse")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{where or 'value'}: contains a lone surrogate, which UTF-8 JSON cannot carry")
    elif isinstance(value, dict):
        for key, child in value.items():
            problems += text_problems(key, f"{where}.<key>")
            problems += text_problems(child, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            problems += text_problems(child, f"{where}[{index}]")
    return problems


def submission_problems(submission: Any) -> list[str]:
    """Why an accepted submission would break the workflow or an activity later (empty when it would not)."""
    from domain.deadlines import DeadlineClock, deadline_for
    from domain.rulesets import DeadlineCase, fee_for

    problems = text_problems(submission.model_dump(mode="python"))
    received = submission.received_at
    procedure = submission.procedure
    if not FIRST_YEAR <= local_date(received).year <= LAST_YEAR - 1:
        problems.append(f"received_at {received.isoformat()} is outside the working-day calendar")
    try:
        fee_for(procedure, submission.channel, received)
        if not PROCEDURES[procedure].immediate:
            DeadlineClock.start(received, deadline_for(procedure, received, DeadlineCase.STANDARD))
    except Exception as error:  # any exception here is a workflow task failing forever
        problems.append(f"received_at {received.isoformat()}: {type(error).__name__}: {error}")
    return problems


def timing_problems(options: Any, received: datetime) -> list[str]:
    """Why these timings (``ProcessingOptions``) would break a dossier received then (empty when they would not)."""
    problems: list[str] = []
    if options.payment_poll_interval < timedelta(seconds=1):
        problems.append(f"payment_poll_interval {options.payment_poll_interval}: a poll loop this fast grows "
                        "the history without bound")
    if options.payment_poll_interval > timedelta(0) and \
            options.payment_timeout / options.payment_poll_interval > MAX_FEE_POLLS:
        problems.append(f"{options.payment_timeout / options.payment_poll_interval:,.0f} fee polls "
                        f"(at about 11 history events each; at most {MAX_FEE_POLLS} keep a dossier under the "
                        "10,000-event warning)")
    for name in ("payment_timeout", "supplement_timeout"):
        timeout: timedelta = getattr(options, name)
        if timeout <= timedelta(0):
            problems.append(f"{name} {timeout} is not positive")
        try:
            received + timeout
        except OverflowError:
            problems.append(f"{name} {timeout} overflows the workflow's timers")
    return problems


def decision_problems(decision: Any) -> list[str]:
    """What an accepted officer decision must satisfy downstream: the audit table, and the CT05/CT06 forms
    (``domain.documents.DocumentData``: items of 1–500 characters, a reason of at most 2,000)."""
    problems = text_problems(decision.model_dump(mode="python"))
    for item in decision.missing_items:
        if not 1 <= len(item.strip()) <= 500:
            problems.append(f"missing item of {len(item.strip())} characters cannot be printed on CT05 (1–500)")
    if decision.reason is not None and len(decision.reason.strip()) > 2000:
        problems.append("reason longer than the 2,000 characters CT06 prints")
    return problems


# ---- messages --------------------------------------------------------------------------------------------------

# A valid payload of each message model; a new model without one here is still fuzzed with garbage.
MESSAGE_BASES: dict[str, dict[str, Any]] = {
    "OfficerDecision": {"officer_id": "CB-00070-01", "decision": "request_supplement",
                        "missing_items": ["Hợp đồng thuê nhà có công chứng"], "reason": "Thiếu giấy tờ"},
    "Supplement": {"provided_items": ["Hợp đồng thuê nhà có công chứng"], "note": "bổ sung"},
    "PaymentConfirmation": {"order_id": "PAY-HS-FUZZ-000001", "amount_vnd": 10_000},
    "Withdrawal": {"reason": "Gia đình đổi ý"},
    "Reassignment": {"supervisor_id": "CB-00070-00", "officer_id": "CB-00070-02", "reason": "nghỉ phép"},
    "CitizenFiling": {"dossier_code": "HS-FUZZ-000002"},
}


def message_models() -> dict[str, tuple[type[Any], set[str]]]:
    """Every message payload model of every workflow, with the messages that carry it.

    Read from the workflow definitions, so a message added to a procedure is fuzzed without touching this file.
    ``officer_decision`` takes raw JSON (so a malformed one is recorded, not dropped) and is validated as an
    ``OfficerDecision`` inside the workflow.
    """
    from pydantic import BaseModel
    from temporalio import workflow

    from domain.models import OfficerDecision
    from workflows.procedures import WORKFLOWS

    found: dict[str, tuple[type[Any], set[str]]] = {}
    for cls in WORKFLOWS.values():
        definition = workflow._Definition.must_from_class(cls)  # no public API lists a class's handlers
        handlers = [(name, s.arg_types) for name, s in definition.signals.items() if name]
        handlers += [(name, u.arg_types) for name, u in definition.updates.items() if name]
        for name, arg_types in handlers:
            model = arg_types[0] if arg_types else None
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                model = OfficerDecision if name == "officer_decision" else None
            if model is not None:
                found.setdefault(model.__name__, (model, set()))[1].add(name)
    return found


def message_problems(model_name: str, accepted: Any) -> list[str]:
    if model_name == "OfficerDecision":
        return decision_problems(accepted)
    problems = text_problems(accepted.model_dump(mode="python"))
    for item in getattr(accepted, "provided_items", ()):
        if len(item) > 2000:
            problems.append(f"a supplemented item of {len(item):,} characters goes into the audit trail whole")
    return problems

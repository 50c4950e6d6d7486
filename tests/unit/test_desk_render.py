"""What the desk prints: Vietnamese time in GMT+7 with the zone shown, dd/mm/yyyy dates, decimal commas,
Vietnamese names for procedures, states and filed values; and its templates escape what they show."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel

from cutru.api.client import AuditTrail, SupersededEntry
from cutru.api.desk.render import FIELD_LABELS, TEMPLATES, days, field_value
from cutru.api.desk.wording import STATE_LABELS, procedure_name, vn_date, vn_time
from domain.kinds import Procedure
from domain.models import DossierState, TrailAction, TrailEntry
from domain.procedures.catalogue import submission_model


def test_times_are_vietnamese_local_with_the_zone_and_dates_day_first():
    assert vn_time(datetime(2026, 12, 16, 10, 0, tzinfo=UTC)) == "17:00 16/12/2026 (GMT+7)"
    assert vn_time(datetime(2026, 12, 31, 17, 30, tzinfo=UTC)) == "00:30 01/01/2027 (GMT+7)"
    assert vn_date(datetime(2026, 12, 31, 17, 30, tzinfo=UTC)) == "01/01/2027"
    assert vn_date(date(2026, 2, 3)) == "03/02/2026" and vn_time(None) == "—"
    assert days(Decimal("7.5")) == "7,5" and days(Decimal("2.0")) == "2"


def test_names_and_filed_values_read_in_vietnamese():
    assert procedure_name("PermanentResidenceRegistration") == "Đăng ký thường trú"
    assert procedure_name("NotAProcedure") == "NotAProcedure"
    assert set(STATE_LABELS) == set(DossierState)
    assert field_value("1990-05-17") == "17/05/1990"
    assert field_value("2026-12-06T22:18:58+00:00") == "05:18 07/12/2026 (GMT+7)"
    assert field_value("female") == "Nữ" and field_value("Số 5 phố Huế") == "Số 5 phố Huế"
    assert field_value("TemporaryResidenceRegistration") == "Đăng ký tạm trú"


def _models_within(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_within(argument)]


def test_every_field_a_citizen_files_has_a_vietnamese_label():
    unlabelled: set[str] = set()
    pending = [submission_model(procedure) for procedure in Procedure]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if name not in FIELD_LABELS:
                unlabelled.add(f"{model.__name__}.{name}")
            pending += _models_within(field.annotation)
    assert not unlabelled, sorted(unlabelled)


def test_what_a_page_shows_is_escaped():
    html = TEMPLATES.from_string("{{ value }}").render(value="<script>alert(1)</script>")
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_the_auditors_trail_page_shows_a_lost_workflow_tasks_rows_apart():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    received = TrailEntry(at=at, actor="citizen", action=TrailAction.RECEIVED)
    lost = SupersededEntry(at=at, actor="CB-00070-01", action=TrailAction.SUPPLEMENT_REQUESTED, detail="Sổ hộ khẩu",
                           reason="not_in_history")

    def rendered(trail: AuditTrail) -> str:
        return TEMPLATES.get_template("audit_trail.html").render(
            request=None, session=None, unread=0, trail=trail, channels={}, operations={}, role_labels={},
            refusals={})

    marked = rendered(AuditTrail(dossier_code="HS-1", police_unit="CA-00070", entries=(received,),
                                 superseded=(lost,)))
    section = marked[marked.index('<section aria-labelledby="superseded">'):]
    assert "Các dòng do một tác vụ workflow bị mất ghi lại" in section
    assert "Yêu cầu bổ sung (CT05) <span class=\"actor\">(CB-00070-01)</span>: Sổ hộ khẩu" in section
    assert 'aria-labelledby="superseded"' not in rendered(
        AuditTrail(dossier_code="HS-1", police_unit="CA-00070", entries=(received,)))

"""Counter intake on the desk: the officer fills in the citizen's dossier at the station and files it online.

The form posts to the same filing as ``POST /v1/intake`` (``cutru.api.intake.file_at_counter``): channel assisted,
the officer from the session's token. A wrong field is shown next to its input, in Vietnamese, with what was typed
kept. The form carries the dossier code made when it was opened, so sending it twice files one dossier.

The counter takes the procedures citizens most often come in for; the others are filed through the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from cutru.api.desk.guard import DeskRoute, Form, Session, allowed
from cutru.api.desk.render import page
from cutru.api.desk.wording import procedure_name
from cutru.api.intake import file_at_counter, intake_code
from cutru.api.problems import Problem
from cutru.api.state import ApiState, api_state
from cutru.platform.oidc import ANY
from domain.kinds import Procedure

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

COUNTER_PROCEDURES = (Procedure.RESIDENCE_CONFIRMATION, Procedure.PERMANENT_RESIDENCE_REGISTRATION,
                      Procedure.TEMPORARY_RESIDENCE_REGISTRATION)
# The details each counter procedure takes, by the form's field name (the submission's path).
_DETAILS: dict[Procedure, tuple[str, ...]] = {
    Procedure.RESIDENCE_CONFIRMATION: ("details.purpose",),
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: (
        "details.basis", "details.residence.province_code", "details.residence.commune_code",
        "details.residence.address_line", "details.relation_to_head"),
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: (
        "details.basis", "details.residence.province_code", "details.residence.commune_code",
        "details.residence.address_line", "details.relation_to_head", "details.requested_until"),
}
_COMMON = ("procedure", "dossier_code", "police_unit", "applicant.full_name", "applicant.personal_id",
           "applicant.birth_date", "applicant.sex", "delivery.method", "delivery.destination")
BASES = {"own_residence": "Chỗ ở hợp pháp thuộc sở hữu của mình",
         "join_relative": "Về ở với người thân (được chủ hộ, chủ sở hữu đồng ý)",
         "rented_or_borrowed": "Thuê, mượn, ở nhờ chỗ ở hợp pháp"}
# Where the check's generic message would not tell the officer what to do.
_SAY_INSTEAD = {"declaration_truthful": "Hãy đọc lời cam đoan cho công dân và đánh dấu ô này khi công dân đồng ý: "
                                        "không có cam đoan thì không nộp được hồ sơ."}
RELATIONS = {"": "Không nhập vào hộ của người khác", "spouse": "Vợ/chồng", "child": "Con", "parent": "Cha/mẹ",
             "sibling": "Anh/chị/em ruột", "grandchild": "Cháu ruột", "grandparent": "Ông/bà"}


def _units(session: Session) -> list[str]:
    return sorted(unit for unit in session.principal.units if unit != ANY)


def submission_of(form: FormData) -> dict[str, Any]:
    """The form as a submission: the dotted names are its paths; an empty field is left out (the check then says
    it is required, next to it); the details are the chosen procedure's only."""
    try:
        procedure = Procedure(str(form.get("procedure") or ""))
    except ValueError:
        procedure = None
    names = _COMMON + (_DETAILS.get(procedure, ()) if procedure else ())
    raw: dict[str, Any] = {"declaration_truthful": form.get("declaration_truthful") == "yes", "details": {}}
    for name in names:
        value = str(form.get(name) or "").strip()
        if not value:
            continue
        *parents, last = name.split(".")
        target = raw
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return raw


def _values(form: FormData | None) -> dict[str, str]:
    return {} if form is None else {key: str(value) for key, value in form.items() if key != "csrf"}


def _form(request: Request, session: Session, values: dict[str, str], errors: dict[str, str], status: int = 200,
          general: list[str] | None = None) -> Response:
    return page(request, "intake.html", status=status, values=values, errors=errors, general=general or [],
                units=[(unit, unit) for unit in _units(session)],
                procedures=[("", "— Chọn thủ tục —"),
                            *((p.value, procedure_name(p.value)) for p in COUNTER_PROCEDURES)],
                bases=[("", "— Chọn —"), *BASES.items()], relations=list(RELATIONS.items()))


@router.get("/intake")
async def intake_form(request: Request, session: Session,
                      filed: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    allowed(session, "intake")
    units = _units(session)
    code = intake_code(units[0] if units else "CA-00000", datetime.now(UTC))
    return _form(request, session, {"dossier_code": code, "police_unit": units[0] if units else ""}, {},
                 general=[]) if filed is None else page(request, "intake_filed.html", code=filed)


@router.post("/intake")
async def intake_filed(request: Request, session: Session, form: Form,
                       state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "intake")
    try:
        submission, _ = await file_at_counter(state, session.principal, submission_of(form))
    except Problem as problem:
        if problem.status != 422 or not problem.errors:
            raise
        errors: dict[str, str] = {}
        for error in problem.errors:
            errors.setdefault(error.field, _SAY_INSTEAD.get(error.field, error.message_vi))
        shown = set(_COMMON) | {name for names in _DETAILS.values() for name in names} | {"declaration_truthful"}
        general = [f"{field}: {message}" for field, message in errors.items() if field not in shown]
        return _form(request, session, _values(form), errors, 422, general)
    return RedirectResponse(f"/desk/intake?filed={submission.dossier_code}", status_code=303)

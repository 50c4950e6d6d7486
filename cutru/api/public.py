"""Anyone, no token (service levels 1 and 2): each procedure's information and its blank forms."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response

from cutru.api.information import FORM_TITLES, FORMS, PAPERS, WHO_MAY_FILE, blank_form
from cutru.api.problems import Problem, problem_responses
from cutru.api.views import DeadlineInfo, Fee, FormRef, ProcedureInfo, ProcedureSummary
from domain.calendar import local_date
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES
from domain.rulesets import rules_for

router = APIRouter(prefix="/v1", tags=["public"])


def _summary(procedure: Procedure) -> ProcedureSummary:
    spec = PROCEDURES[procedure]
    return ProcedureSummary(procedure=procedure, vietnamese_name=spec.vietnamese_name, tthc_code=spec.tthc_code,
                            href=f"/v1/procedures/{procedure.value}")


def _info(procedure: Procedure) -> ProcedureInfo:
    spec = PROCEDURES[procedure]
    rules = rules_for(local_date(datetime.now(UTC)))
    procedure_rules = rules.procedures[procedure]
    return ProcedureInfo(
        procedure=procedure, vietnamese_name=spec.vietnamese_name, tthc_code=spec.tthc_code,
        legal_basis=spec.legal_basis, who_may_file=WHO_MAY_FILE[procedure], papers=list(PAPERS[procedure]),
        fee=Fee(online_vnd=procedure_rules.fee_online_vnd, in_person_vnd=procedure_rules.fee_in_person_vnd,
                per_person_by_list_online_vnd=procedure_rules.fee_per_person_by_list_online_vnd,
                per_person_by_list_in_person_vnd=procedure_rules.fee_per_person_by_list_in_person_vnd),
        deadline=DeadlineInfo(
            working_days=float(procedure_rules.deadline_working_days),
            alternatives={case.value: f"{deadline.days} {deadline.unit.value} days"
                          for case, deadline in procedure_rules.alternative_deadlines.items()}),
        officer_review=spec.officer_review, results=list(spec.results),
        forms=[FormRef(form=form, title=FORM_TITLES[form], href=f"/v1/procedures/{procedure.value}/forms/{form}")
               for form in FORMS[procedure]],
        rules_effective_from=rules.effective_from,
        submission_schema=f"schemas/workflow-input.{procedure.value}.json",
    )


def _procedure(name: str) -> Procedure:
    try:
        return Procedure(name)
    except ValueError:
        raise Problem(404, "procedure_not_found", "Procedure not found", "Không tìm thấy thủ tục",
                      detail=f"No procedure {name[:80]!r}; GET /v1/procedures lists them.",
                      detail_vi="Không có thủ tục này; xem danh sách tại /v1/procedures.") from None


@router.get("/procedures", operation_id="list_procedures", summary="The residence procedures")
async def list_procedures() -> list[ProcedureSummary]:
    return [_summary(procedure) for procedure in PROCEDURES]


@router.get("/procedures/{procedure}", operation_id="get_procedure", responses=problem_responses(404),
            summary="One procedure: who may file, papers, fee, deadline, results and forms")
async def get_procedure(procedure: str) -> ProcedureInfo:
    return _info(_procedure(procedure))


@router.get(
    "/procedures/{procedure}/forms/{form}", operation_id="get_form", summary="A blank form to fill in (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "the blank form"}, **problem_responses(404)},
)
async def get_form(procedure: str, form: str) -> Response:
    known = _procedure(procedure)
    if form not in FORMS[known]:
        raise Problem(404, "form_not_found", "Form not found", "Không tìm thấy biểu mẫu",
                      detail=f"{known.value} has the forms {', '.join(FORMS[known]) or 'none'}.",
                      detail_vi=f"Thủ tục này có các biểu mẫu: {', '.join(FORMS[known]) or 'không có'}.")
    return Response(blank_form(form), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{form}.pdf"',
                             "Cache-Control": "public, max-age=86400"})

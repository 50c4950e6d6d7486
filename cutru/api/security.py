"""Who may call what: bearer tokens verified by ``cutru.platform.oidc``, roles, units and procedures from their claims.

The authorisations, in the manner of Open Zaak's *autorisaties*: an operation is allowed to a set of roles, and
within it the token's ``procedures`` claim (procedure names or ``*``) and ``units`` claim (police units
``CA-xxxxx`` or ``*``) bound which dossiers it reaches.

    operation            roles                          procedure scope   unit scope
    -------------------  -----------------------------  ----------------  ------------------------------
    read_catalogue       anyone, no token               -                 -
    submit_dossier       portal                         the submission's  the submission's police_unit
    upload_attachment    portal                         -                 - (a file is bound by its dossier)
    read_dossier         portal                         the dossier's     the dossier's unit
    supplement_dossier   portal                         the dossier's     the dossier's unit
    withdraw_dossier     portal                         the dossier's     the dossier's unit
    payment_callback     payment_gateway                -                 - (the signature binds the order)
    officer_queue        officer, supervisor            filters           the unit asked for
    officer_view         officer, supervisor            the dossier's     the dossier's unit
    decide               officer, supervisor            the dossier's     the dossier's unit (and the roster)
    intake               officer, supervisor            the submission's  the submission's police_unit
    reassign             supervisor                     the dossier's     the dossier's unit
    escalations          supervisor                     filters           the unit asked for
    workload             supervisor                     -                 the unit asked for, else theirs
    on_time_rate         supervisor                     -                 the unit asked for, else theirs
    statistics           supervisor                     -                 a unit, a province wholly covered, else theirs
    inbox                officer, supervisor            -                 - (the token officer's own notices)
    audit_trail          auditor                        the dossier's     the dossier's unit
    audit_replay         auditor                        the dossier's     the dossier's unit
    audit_export         auditor                        filters           filters
    audit_search         auditor                        filters           filters
    metrics              operator                       -                 -
    manage_events        operator                       -                 -
    manage_notifications operator                       -                 -
    close_dossier        operator                       -                 -
    livez, readyz        anyone, no token               -                 -

A write outside the caller's scope is 403. A read of a dossier outside it is 404, the same answer as a dossier that
does not exist, so that codes cannot be probed for existence across units or procedures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cutru.api.problems import Problem, dossier_not_found
from cutru.api.state import State
from cutru.platform.oidc import IssuerUnavailable, Principal, Role, TokenRejected

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OAuth 2.0 access token (JWT) from the OpenID Connect issuer: client credentials for portal "
                "backends and payment gateways, authorization code + PKCE for officers, supervisors and auditors.",
)


@dataclass(frozen=True)
class Authorisation:
    roles: frozenset[Role]
    procedure_scoped: bool
    unit_scoped: bool


def _allow(*roles: Role, procedure: bool = True, unit: bool = True) -> Authorisation:
    return Authorisation(frozenset(roles), procedure, unit)


AUTHORISATIONS: dict[str, Authorisation] = {
    "submit_dossier": _allow(Role.PORTAL),
    "upload_attachment": _allow(Role.PORTAL, procedure=False, unit=False),
    "read_dossier": _allow(Role.PORTAL),
    "supplement_dossier": _allow(Role.PORTAL),
    "withdraw_dossier": _allow(Role.PORTAL),
    "payment_callback": _allow(Role.PAYMENT_GATEWAY, procedure=False, unit=False),
    "officer_queue": _allow(Role.OFFICER, Role.SUPERVISOR),
    "officer_view": _allow(Role.OFFICER, Role.SUPERVISOR),
    "decide": _allow(Role.OFFICER, Role.SUPERVISOR),
    "intake": _allow(Role.OFFICER, Role.SUPERVISOR),
    "reassign": _allow(Role.SUPERVISOR),
    # Heads hold the officer's or supervisor's role; the roster says who signs (cutru/api/signoff.py).
    "sign_off": _allow(Role.OFFICER, Role.SUPERVISOR),
    "escalations": _allow(Role.SUPERVISOR),
    "workload": _allow(Role.SUPERVISOR, procedure=False),
    "on_time_rate": _allow(Role.SUPERVISOR, procedure=False),
    "statistics": _allow(Role.SUPERVISOR, procedure=False),
    "inbox": _allow(Role.OFFICER, Role.SUPERVISOR, procedure=False, unit=False),
    "audit_trail": _allow(Role.AUDITOR),
    "audit_replay": _allow(Role.AUDITOR),
    "audit_export": _allow(Role.AUDITOR),
    "audit_search": _allow(Role.AUDITOR),
    "metrics": _allow(Role.OPERATOR, procedure=False, unit=False),
    "manage_events": _allow(Role.OPERATOR, procedure=False, unit=False),
    "manage_notifications": _allow(Role.OPERATOR, procedure=False, unit=False),
    "close_dossier": _allow(Role.OPERATOR, procedure=False, unit=False),
}


def _unauthenticated(reason: str, presented: bool) -> Problem:
    # RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
    challenge = f'Bearer realm="cutru", error="invalid_token", error_description="{_quoted(reason)}"' \
        if presented else 'Bearer realm="cutru"'
    return Problem(401, "unauthenticated", "Authentication required", "Chưa xác thực",
                   detail=f"{reason}; send a valid bearer token from the identity provider.",
                   detail_vi="Cần gửi mã truy cập (bearer token) hợp lệ do hệ thống xác thực cấp.",
                   headers={"WWW-Authenticate": challenge})


def _quoted(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable() and ch not in '"\\')[:200]


async def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
                 state: State) -> Principal:
    """The verified caller; 401 for a missing, expired or otherwise invalid token."""
    if credentials is None:
        raise _unauthenticated("no bearer token", presented=False)
    try:
        return await state.verifier.verify(credentials.credentials)
    except IssuerUnavailable as error:
        # Not the caller's fault: the token could not be checked, so say so rather than call it invalid.
        raise Problem(503, "issuer_unavailable", "The identity provider is unreachable",
                      "Không kết nối được hệ thống xác thực",
                      detail="Tokens cannot be checked right now; try again shortly.",
                      detail_vi="Tạm thời không kiểm tra được mã truy cập; hãy thử lại sau.",
                      headers={"Retry-After": "5"}) from error
    except TokenRejected as error:
        raise _unauthenticated(f"token rejected: {error}", presented=True) from error


def forbidden(detail: str, detail_vi: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", "Không có quyền", detail=detail, detail_vi=detail_vi)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller when it holds one of ``roles``, else 403."""
    allowed = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not principal.roles & allowed:
            raise forbidden(f"This operation needs one of the roles {', '.join(sorted(allowed))}.",
                            "Tài khoản không có vai trò được phép thực hiện thao tác này.")
        return principal

    return dependency


def permit(operation: str) -> Callable[..., Awaitable[Principal]]:
    """``require`` with the roles the authorisation table gives ``operation``."""
    return require(*AUTHORISATIONS[operation].roles)


def check_unit(principal: Principal, unit_code: str) -> None:
    if not principal.has_unit(unit_code):
        raise forbidden(f"Your token does not cover police unit {unit_code}.",
                        f"Tài khoản không được phân quyền cho đơn vị {unit_code}.")


def check_procedure(principal: Principal, procedure: str) -> None:
    if not principal.has_procedure(procedure):
        raise forbidden(f"Your token does not cover the procedure {procedure}.",
                        f"Tài khoản không được phân quyền cho thủ tục {procedure}.")


def check_readable(principal: Principal, dossier_code: str, unit_code: str, procedure: str) -> None:
    """A read of a dossier outside the caller's scope: 404, as if it did not exist."""
    if not (principal.has_unit(unit_code) and principal.has_procedure(procedure)):
        raise dossier_not_found(dossier_code)

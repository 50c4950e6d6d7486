"""Eligibility rules, as small pure functions over the submission and the facts loaded from the databases.

The ``check_eligibility`` activity loads ``HouseholdFacts`` from PostgreSQL and calls ``refusals_for``; every
refusal names its legal basis and says what the applicant can do about it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from domain.models import Boundary, ConsentRole, Refusal, SubmissionBase
from domain.procedures import Procedure
from domain.rulesets import DeadlineCase
from domain.submissions import PermanentResidenceRegistrationSubmission

ADULT_AGE = 18
MIN_FLOOR_AREA_PER_PERSON_M2 = Decimal(8)  # Điều 20 khoản 3: never below 8 m², provinces may set more



class PersonFacts(Boundary):
    personal_id: str
    full_name: str
    birth_date: date
    sex: str
    status: str
    full_civil_capacity: bool
    fee_exemption: str | None = None


class ResidenceFacts(Boundary):
    residence_id: int
    owner_id: str | None
    floor_area_m2: Decimal
    barred_reason: str | None
    household_id: int | None
    household_head_id: str | None
    member_count: int


class HouseholdFacts(Boundary):
    """What the population and residence databases say about the applicant and the target place."""

    applicant: PersonFacts
    residence: ResidenceFacts | None = None
    current_permanent_residence_id: int | None = None
    provincial_min_floor_area_m2: Decimal = MIN_FLOOR_AREA_PER_PERSON_M2

    def findings(self) -> tuple[str, ...]:
        """What the officer sees of the checks: plain sentences, no personal ID numbers."""
        lines = [f"applicant in the population database: {self.applicant.status}, "
                 f"full civil capacity: {'yes' if self.applicant.full_civil_capacity else 'no'}"]
        if self.residence is not None:
            r = self.residence
            lines.append(f"residence #{r.residence_id}: {r.floor_area_m2} m², {r.member_count} registered member(s), "
                         f"owner {'recorded' if r.owner_id else 'not recorded'}, "
                         f"barred: {r.barred_reason or 'no'}")
        if self.current_permanent_residence_id is not None:
            lines.append(f"current permanent residence #{self.current_permanent_residence_id}")
        return tuple(lines)


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def identity_refusals(submission: SubmissionBase, person: PersonFacts | None) -> list[Refusal]:
    """The applicant must exist in the population database, be alive, and match what was declared."""
    basis = "Luật Cư trú 2020, Điều 6; Luật Căn cước 2023"
    if person is None:
        return [
            Refusal(
                code="identity_unknown",
                message="The personal ID number is not in the national population database; check the number.",
                legal_basis=basis,
            )
        ]
    refusals = []
    if person.status != "alive":
        refusals.append(
            Refusal(code="identity_deceased", message="The population database records this person as deceased.",
                    legal_basis=basis)
        )
    declared = submission.applicant
    mismatched = [
        name
        for name, same in (
            ("full name", declared.full_name.casefold() == person.full_name.casefold()),
            ("birth date", declared.birth_date == person.birth_date),
            ("sex", declared.sex == person.sex),
        )
        if not same
    ]
    if mismatched:
        refusals.append(
            Refusal(
                code="identity_mismatch",
                message="The declared " + ", ".join(mismatched)
                + " differ from the national population database; correct the declaration.",
                legal_basis=basis,
            )
        )
    return refusals


def _minor_needs_guardian(submission: SubmissionBase, facts: HouseholdFacts) -> list[Refusal]:
    if age_on(facts.applicant.birth_date, submission.received_at.date()) >= ADULT_AGE:
        return []
    if submission.consent_of(ConsentRole.PARENT_OR_GUARDIAN):
        return []
    return [
        Refusal(
            code="minor_without_guardian_consent",
            message="The applicant is under 18: a parent or guardian must consent (CT01 signature or VNeID).",
            legal_basis="Luật Cư trú 2020, Điều 20 khoản 2 điểm c, d",
        )
    ]


def _barred_place(facts: HouseholdFacts) -> list[Refusal]:
    if facts.residence is None or not facts.residence.barred_reason:
        return []
    return [
        Refusal(
            code="barred_place",
            message=f"Registration is barred at this place: {facts.residence.barred_reason}.",
            legal_basis="Luật Cư trú 2020, Điều 23",
        )
    ]


def permanent_registration_refusals(
    submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts
) -> list[Refusal]:
    """Đăng ký thường trú, Luật Cư trú Điều 20–23."""
    details = submission.details
    applicant_id = submission.applicant.personal_id
    residence = facts.residence
    if residence is None:
        return [
            Refusal(
                code="residence_unknown",
                message="No legal residence is recorded at this address; attach proof of legal residence "
                "or check the address.",
                legal_basis="Luật Cư trú 2020, Điều 20; Nghị định 154/2024/NĐ-CP",
            )
        ]
    refusals = _barred_place(facts) + _minor_needs_guardian(submission, facts)
    if facts.current_permanent_residence_id is not None and facts.current_permanent_residence_id == residence.residence_id:
        refusals.append(
            Refusal(code="already_registered_here", message="The applicant is already registered at this residence.",
                    legal_basis="Luật Cư trú 2020, Điều 20")
        )
    if details.basis == "own_residence":
        if residence.owner_id != applicant_id:
            refusals.append(
                Refusal(
                    code="not_owner",
                    message="The records do not show the applicant as owner of this residence; choose another "
                    "basis (joining a relative, rented or borrowed housing) or attach proof of ownership.",
                    legal_basis="Luật Cư trú 2020, Điều 20 khoản 1",
                )
            )
        return refusals
    head_id = residence.household_head_id
    if details.basis == "join_relative":
        if head_id is None:
            refusals.append(
                Refusal(code="no_household_to_join", message="No household lives at this residence to join.",
                        legal_basis="Luật Cư trú 2020, Điều 20 khoản 2")
            )
        elif submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(_missing_consent("household_head_consent_missing", "the household head"))
    else:
        if not details.contract_certified:
            refusals.append(
                Refusal(
                    code="contract_not_certified",
                    message="A rented or borrowed residence needs a notarised or certified contract.",
                    legal_basis="Luật Cư trú 2020, Điều 20 khoản 3; Nghị định 154/2024/NĐ-CP Điều 5",
                )
            )
        if head_id is not None and head_id != applicant_id and submission.consent_of(
            ConsentRole.HOUSEHOLD_HEAD, head_id
        ) is None:
            refusals.append(_missing_consent("household_head_consent_missing", "the household head"))
        area_each = residence.floor_area_m2 / (residence.member_count + 1)
        minimum = max(MIN_FLOOR_AREA_PER_PERSON_M2, facts.provincial_min_floor_area_m2)
        if area_each < minimum:
            refusals.append(
                Refusal(
                    code="floor_area_too_small",
                    message=f"Floor area per person would be {area_each:.1f} m², below the minimum of {minimum} m².",
                    legal_basis="Luật Cư trú 2020, Điều 20 khoản 3 điểm b",
                )
            )
    # The owner's consent may come as owner or, when the owner heads the household, as its head (one CT01).
    owner = residence.owner_id
    if owner not in (None, applicant_id) and not any(c.personal_id == owner for c in submission.consents):
        refusals.append(_missing_consent("owner_consent_missing", "the owner of the residence"))
    return refusals


def _missing_consent(code: str, who: str) -> Refusal:
    return Refusal(
        code=code,
        message=f"Consent of {who} is missing: ask them to sign CT01 or confirm in VNeID, then file again.",
        legal_basis="Luật Cư trú 2020, Điều 20; Thông tư 116/2026/TT-BCA",
    )


RULES: dict[Procedure, Callable[..., list[Refusal]]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: permanent_registration_refusals,
}


def eligibility_refusals(submission: SubmissionBase, facts: HouseholdFacts) -> list[Refusal]:
    """The procedure's own rules (identity was checked before, by ``identity_refusals``)."""
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    return RULES[procedure](submission, facts)


# Which deadline applies, for procedures whose time depends on the facts (e.g. data in CSDLQG or not).
DEADLINE_CASES: dict[Procedure, Callable[..., DeadlineCase]] = {}


def deadline_case_for(submission: SubmissionBase, facts: HouseholdFacts) -> DeadlineCase:
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    choose = DEADLINE_CASES.get(procedure)
    return choose(submission, facts) if choose else DeadlineCase.STANDARD

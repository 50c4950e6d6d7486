"""Temporary residence: registration (Luật Cư trú Điều 27–28) and extension of its term (Điều 28 khoản 3).

Thresholds come from the rule set in force on the day of receipt (``temporary_residence``): the 30-day trigger,
the 2-year maximum term and the 15-day extension window. The rented housing's contract needs no notarisation
here (unlike permanent registration), and joining a relative needs no proof of residence, only consent.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from domain.documents import format_date
from domain.models import ConsentRole, Refusal
from domain.rules_common import (
    barred_place,
    minor_needs_guardian,
    missing_consent,
    received_on,
    refusal,
    wrong_authority,
)
from domain.rulesets import Period, PeriodUnit, rules_for
from domain.submissions import TemporaryResidenceExtensionSubmission, TemporaryResidenceRegistrationSubmission

if TYPE_CHECKING:
    from domain.eligibility import HouseholdFacts

REGISTRATION_BASIS = "Luật Cư trú 2020, Điều 27–28"
EXTENSION_BASIS = "Luật Cư trú 2020, Điều 28 khoản 3"


def max_term_end(start: date, months: int) -> date:
    """Last day of the longest term allowed from ``start`` (Bộ luật Dân sự Điều 147–148)."""
    return Period(amount=months, unit=PeriodUnit.MONTHS).end_from(start)


def temporary_registration_refusals(submission: TemporaryResidenceRegistrationSubmission,
                                    facts: HouseholdFacts) -> list[Refusal]:
    """Đăng ký tạm trú, Luật Cư trú Điều 27–28."""
    details = submission.details
    residence = facts.residence
    if residence is None:
        return [refusal("residence_unknown", "No legal residence is recorded at this address; attach proof of legal "
                        "residence or check the address.", REGISTRATION_BASIS)]
    rules = rules_for(submission.received_at).temporary_residence
    on = received_on(submission)
    refusals = (wrong_authority(submission, details.residence.commune_code, "the residence")
                + barred_place(residence.barred_reason)
                + minor_needs_guardian(submission, facts.applicant.birth_date, f"{REGISTRATION_BASIS}; Điều 20"))
    if (details.requested_until - on).days < rules.registration_trigger_days:
        refusals.append(refusal(
            "term_below_registration_trigger",
            f"Temporary residence is registered for a stay of {rules.registration_trigger_days} days or more; a "
            "shorter stay is notified as a stay (thông báo lưu trú) by the host.", "Luật Cư trú 2020, Điều 27 khoản 1"))
    if details.requested_until > (longest := max_term_end(on, rules.max_term_months)):
        refusals.append(refusal(
            "term_too_long",
            f"A term lasts at most {rules.max_term_months} months: until {format_date(longest)} at the latest "
            "(it can be extended).", "Luật Cư trú 2020, Điều 27 khoản 3"))
    records = facts.records
    if records is not None and records.permanent is not None \
            and records.permanent.commune_code == details.residence.commune_code:
        refusals.append(refusal(
            "within_commune_of_permanent_residence",
            "The applicant's permanent residence is in this commune: temporary residence is registered only "
            "outside the commune of permanent residence.", "Luật Cư trú 2020, Điều 27 khoản 1"))
    if records is not None and records.temporary is not None \
            and records.temporary.residence_id == residence.residence_id:
        refusals.append(refusal("already_registered_here",
                                "The applicant already holds a temporary residence here; extend it instead.",
                                REGISTRATION_BASIS))
    applicant_id = submission.applicant.personal_id
    if details.basis == "own_residence" and residence.owner_id != applicant_id:
        refusals.append(refusal("not_owner", "The records do not show the applicant as owner of this residence; "
                                "choose another basis or attach proof of ownership.", REGISTRATION_BASIS))
    head_id = residence.household_head_id
    if details.basis == "join_relative":
        if head_id is None:
            refusals.append(refusal("no_household_to_join", "No household lives at this residence to join.",
                                    "Luật Cư trú 2020, Điều 20 khoản 2"))
        elif head_id != applicant_id and submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(missing_consent("household_head_consent_missing", "the household head", REGISTRATION_BASIS))
    if residence.owner_id not in (None, applicant_id) and submission.consent_of(
            ConsentRole.OWNER, residence.owner_id) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", REGISTRATION_BASIS))
    return refusals


def temporary_extension_refusals(submission: TemporaryResidenceExtensionSubmission,
                                 facts: HouseholdFacts) -> list[Refusal]:
    """Gia hạn tạm trú, Luật Cư trú Điều 28 khoản 3: within the 15 days before the term ends, at most 2 years more."""
    applicant_id = submission.applicant.personal_id
    renewing_for_other = submission.subject_id != applicant_id
    if renewing_for_other and facts.subject is None:
        return [refusal("subject_unknown", "The person whose term is extended is not in the national population "
                        "database; check the personal ID number.", EXTENSION_BASIS)]
    current = facts.records.temporary if facts.records else None
    if current is None or current.valid_to is None:
        return [refusal("no_temporary_residence", "No active temporary residence is recorded to extend; register a "
                        "temporary residence instead.", EXTENSION_BASIS)]
    rules = rules_for(submission.received_at).temporary_residence
    on = received_on(submission)
    refusals = wrong_authority(submission, current.commune_code, "the temporary residence")
    opens = current.valid_to - timedelta(days=rules.extension_window_days)
    if on < opens:
        refusals.append(refusal(
            "extension_too_early",
            f"An extension is filed within the {rules.extension_window_days} days before the term ends on "
            f"{format_date(current.valid_to)}: from {format_date(opens)}.", EXTENSION_BASIS))
    if on > current.valid_to:
        refusals.append(refusal(
            "temporary_residence_expired",
            f"The term ended on {format_date(current.valid_to)}: register the temporary residence again.",
            EXTENSION_BASIS))
    requested = submission.details.requested_until
    if requested <= current.valid_to:
        refusals.append(refusal("extension_not_later",
                                f"The requested end must be after the current end, {format_date(current.valid_to)}.",
                                EXTENSION_BASIS))
    elif requested > (longest := max_term_end(current.valid_to, rules.max_term_months)):
        refusals.append(refusal(
            "term_too_long",
            f"A term lasts at most {rules.max_term_months} months: until {format_date(longest)} at the latest.",
            "Luật Cư trú 2020, Điều 27 khoản 3"))
    if renewing_for_other:
        own = facts.applicant_records.temporary if facts.applicant_records else None
        if own is None or own.residence_id != current.residence_id:
            refusals.append(refusal(
                "not_household_member",
                "Only a member of the same household, temporarily residing at the same place, may extend for "
                "another person.", EXTENSION_BASIS))
    owner = current.owner_id
    if owner not in (None, applicant_id, submission.subject_id) and submission.consent_of(
            ConsentRole.OWNER, owner) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", EXTENSION_BASIS))
    return refusals

"""The facts the procedures' rules judge: what the population and residence databases say, as plain values.

``activities.facts`` loads them (only the kinds a procedure's definition says it needs); the rules in
``domain.procedures`` read them. They sit apart from the rules so that every procedure module can import them and
nothing here imports a procedure.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.models import Boundary


class PersonFacts(Boundary):
    personal_id: str
    full_name: str
    birth_date: date
    sex: str
    status: str
    full_civil_capacity: bool
    fee_exemption: str | None = None
    # Collected and verified in CSDLQG; when not, declarations and confirmations need verification (longer deadline).
    identity_verified: bool = True


class ResidenceFacts(Boundary):
    residence_id: int
    owner_id: str | None
    floor_area_m2: Decimal
    barred_reason: str | None
    household_id: int | None
    household_head_id: str | None
    member_count: int  # members of the household above (the first at the address)
    # Members of every household at the address (after a separation there are several); None: as member_count.
    occupant_count: int | None = None
    province_code: str | None = None
    co_owner_ids: tuple[str, ...] = ()  # owners besides owner_id (residence_co_owners)
    owners_representative_id: str | None = None  # the owner the co-owners appointed to consent for all

    @property
    def occupants(self) -> int:
        """People registered at the residence, whichever household they belong to."""
        return self.member_count if self.occupant_count is None else self.occupant_count


class RecordFacts(Boundary):
    """One active residence record of a person: permanent, temporary, or a declared place (Điều 19)."""

    record_id: int
    residence_id: int | None
    province_code: str
    commune_code: str
    address_line: str
    valid_from: date
    valid_to: date | None = None  # temporary residence: last day of the term
    owner_id: str | None = None  # owner of the residence, when recorded


class MemberFacts(Boundary):
    """A member of a household as the residence and population databases know them."""

    personal_id: str
    full_name: str
    relation_to_head: str
    birth_date: date
    status: str
    full_civil_capacity: bool


class MembershipFacts(Boundary):
    """The household a person belongs to (hộ gia đình), with all its members."""

    household_id: int
    residence_id: int
    commune_code: str
    head_id: str
    owner_id: str | None
    members: tuple[MemberFacts, ...]

    def member(self, personal_id: str) -> MemberFacts | None:
        return next((m for m in self.members if m.personal_id == personal_id), None)


class PersonRecords(Boundary):
    """Everything the residence database holds, today, about one person."""

    personal_id: str
    permanent: RecordFacts | None = None
    temporary: RecordFacts | None = None
    declaration: RecordFacts | None = None
    household: MembershipFacts | None = None
    absence_declared_until: date | None = None  # end of the latest temporary-absence declaration (Điều 31)

    @property
    def any_active(self) -> bool:
        return any((self.permanent, self.temporary, self.declaration))


class HouseholdFacts(Boundary):
    """What the population and residence databases say about the applicant, the person concerned and the place."""

    applicant: PersonFacts
    residence: ResidenceFacts | None = None
    current_permanent_residence_id: int | None = None
    provincial_min_floor_area_m2: Decimal | None = None  # the province's minimum, when it sets one above the law's
    # The person the dossier concerns when it is not the applicant (a deceased relative, a member renewed for);
    # None also when that person is not in the population database (the rules then refuse).
    subject: PersonFacts | None = None
    records: PersonRecords | None = None  # of the person concerned: the subject, else the applicant
    applicant_records: PersonRecords | None = None  # of the applicant, when the subject is someone else
    named: tuple[PersonFacts, ...] = ()  # other people named in the dossier (members, guests) found in CSDLQG
    notes: tuple[str, ...] = ()  # findings for the officer that refuse nothing (e.g. a late filing)

    def named_person(self, personal_id: str) -> PersonFacts | None:
        return next((p for p in self.named if p.personal_id == personal_id), None)

    def findings(self) -> tuple[str, ...]:
        """What the officer sees of the checks: plain sentences, no personal ID numbers."""
        lines = [f"applicant in the population database: {self.applicant.status}, "
                 f"full civil capacity: {'yes' if self.applicant.full_civil_capacity else 'no'}"]
        if self.residence is not None:
            r = self.residence
            lines.append(f"residence #{r.residence_id}: {r.floor_area_m2} m², {r.occupants} registered occupant(s), "
                         f"owner {'recorded' if r.owner_id else 'not recorded'}, "
                         f"barred: {r.barred_reason or 'no'}")
        if self.current_permanent_residence_id is not None:
            lines.append(f"current permanent residence #{self.current_permanent_residence_id}")
        if self.records is not None:
            lines += _record_findings(self.records)
        return tuple(lines) + self.notes


def _record_findings(records: PersonRecords) -> list[str]:
    lines = [f"{kind} residence record #{record.record_id} in commune {record.commune_code}"
             + (f", until {record.valid_to.isoformat()}" if record.valid_to else "")
             for kind, record in (("permanent", records.permanent), ("temporary", records.temporary),
                                  ("declared", records.declaration)) if record is not None]
    if records.household is not None:
        lines.append(f"household #{records.household.household_id}: {len(records.household.members)} member(s)")
    if records.absence_declared_until is not None:
        lines.append(f"temporary absence declared until {records.absence_declared_until.isoformat()}")
    return lines or ["no active residence record"]

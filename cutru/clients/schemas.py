"""JSON Schemas of the backend contract, generated from the pydantic models into ``schemas/``.

    python -m cutru.clients.schemas           # regenerate
    python -m cutru.clients.schemas --check   # exit 1 when the committed files are stale

A service written in any language starts a dossier with the submission schema of its procedure as the workflow
input, sends signals and updates with the message schemas, and reads query and workflow results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from activities.contracts import StayOutcome
from cutru.platform.config import PROJECT_ROOT
from domain.models import (
    Closure,
    DecisionReceipt,
    DossierOutcome,
    DossierStatus,
    OfficerDecision,
    PaymentConfirmation,
    Reassignment,
    SignOff,
    SignOffReceipt,
    Supplement,
    Withdrawal,
)
from domain.procedures.catalogue import PROCEDURES
from domain.procedures.stay_notification import StayNotificationSubmission
from workflows.stay_register import RegisterSummary, StayRegisterKey

SCHEMA_DIR = PROJECT_ROOT / "schemas"
# Files in schemas/ that another writer owns (the API's OpenAPI document, ``cutru.api.app``): never left-overs here.
WRITTEN_ELSEWHERE = frozenset({"openapi.json"})

Mode = Literal["validation", "serialization"]


def contract() -> dict[str, tuple[type[BaseModel], Mode, str]]:
    """File name → (model, mode, what it is for)."""
    files: dict[str, tuple[type[BaseModel], Mode, str]] = {
        f"workflow-input.{procedure.value}.json": (spec.submission, "validation",
                                                   f"input of workflow {procedure.value}")
        for procedure, spec in PROCEDURES.items()
    }
    files.update({
        "signal.officer_decision.json": (OfficerDecision, "validation", "signal officer_decision"),
        "signal.supplement.json": (Supplement, "validation", "signal supplement"),
        "signal.payment_confirmed.json": (PaymentConfirmation, "validation", "signal payment_confirmed"),
        "signal.withdraw.json": (Withdrawal, "validation", "signal withdraw"),
        "update.decide.input.json": (OfficerDecision, "validation", "update decide: argument"),
        "update.decide.result.json": (DecisionReceipt, "serialization", "update decide: result"),
        "update.reassign.input.json": (Reassignment, "validation", "update reassign: argument"),
        "update.reassign.result.json": (DossierStatus, "serialization", "update reassign: result"),
        "update.sign_off.input.json": (SignOff, "validation", "update sign_off: argument"),
        "update.sign_off.result.json": (SignOffReceipt, "serialization", "update sign_off: result"),
        "update.close.input.json": (Closure, "validation", "update close: argument"),
        "update.close.result.json": (DossierStatus, "serialization", "update close: result"),
        "query.status.result.json": (DossierStatus, "serialization", "query status: result"),
        "workflow-result.json": (DossierOutcome, "serialization", "result of every procedure workflow"),
        "StayRegister.input.json": (StayRegisterKey, "validation", "input of workflow StayRegister"),
        "StayRegister.signal.notify.json": (StayNotificationSubmission, "validation",
                                            "signal notify of StayRegister: one establishment's stay notification"),
        "StayRegister.query.notification.result.json": (StayOutcome, "serialization",
                                                        "query notification(dossier_code) of StayRegister"),
        "StayRegister.result.json": (RegisterSummary, "serialization", "result (and query summary) of StayRegister"),
    })
    return files


def render() -> dict[str, str]:
    rendered = {}
    for name, (model, mode, purpose) in contract().items():
        schema: dict[str, Any] = model.model_json_schema(mode=mode)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": purpose, **schema}
        rendered[name] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return rendered


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Files that differ from the models, are missing, or are left over."""
    expected = render()
    present = {p.name for p in directory.glob("*.json")} - WRITTEN_ELSEWHERE if directory.exists() else set()
    problems = [n for n, text in expected.items()
                if not (directory / n).exists() or (directory / n).read_text(encoding="utf-8") != text]
    return sorted(problems + [n for n in present - expected.keys()])


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(exist_ok=True)
    expected = render()
    for leftover in {p.name for p in directory.glob("*.json")} - expected.keys() - WRITTEN_ELSEWHERE:
        (directory / leftover).unlink()
    for name, text in expected.items():
        (directory / name).write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    if parser.parse_args().check:
        problems = stale()
        if problems:
            print("stale schemas (run `python -m cutru.clients.schemas`): " + ", ".join(problems), file=sys.stderr)
            sys.exit(1)
        print("schemas up to date")
        return
    write()
    print(f"wrote {len(render())} schemas to {SCHEMA_DIR}")


if __name__ == "__main__":
    main()

"""The workflow sandbox shared by the worker and the replayer.

Pure, deterministic libraries that the domain uses are passed through instead of re-imported for every workflow
run: re-importing them is slow, and some load data lazily (administrative units, holiday tables).

The worker passes this package's own modules through as well. Re-executing ``workflows/procedures.py`` (eleven
``@workflow.defn`` classes, each inspected) for every new run cost about 200 ms of CPU per dossier, more than all
of a dossier's activities. The check the sandbox gives on them, that workflow code reaches nothing
non-deterministic (clock, randomness, files, network), is kept where it matters before a release: ``strict=True``
re-imports them in the sandbox, and the auditors' replayer and the test suite's replay of every recorded history
use it.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSED_THROUGH = ("domain", "activities", "pydantic", "pydantic_core", "vietnam_provinces", "enum_tools", "holidays")
WORKFLOW_PACKAGE = "workflows"


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    modules = PASSED_THROUGH if strict else (*PASSED_THROUGH, WORKFLOW_PACKAGE)
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules))

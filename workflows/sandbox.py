"""The workflow sandbox shared by the worker and the replayer.

Pure, deterministic libraries that the domain uses are passed through instead of re-imported for every workflow
run: re-importing them is slow, and some load data lazily (administrative units, holiday tables).
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSED_THROUGH = ("domain", "activities", "pydantic", "pydantic_core", "vietnam_provinces", "enum_tools", "holidays")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))

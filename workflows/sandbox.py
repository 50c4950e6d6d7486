"""How workflow code is run: directly in the worker, inside Temporal's sandbox when histories are replayed.

The worker runs workflows without the sandbox. Re-importing the workflow modules in the sandbox for every new run
(eleven ``@workflow.defn`` classes, each inspected) cost more CPU than the dossier itself, so the worker used to pass
this package through the sandbox. A passed-through module is the ordinary one: its code reaches the real clock,
randomness and files, so the sandbox then checked nothing in cutru's workflow code while it still cost the worker
CPU at every activation (measured in docs/benchmarks.md).

The check the sandbox gives, that workflow code reaches nothing non-deterministic, is kept where it matters:
``checking_runner`` re-imports the workflow modules in the sandbox, and the auditors' replayer and the test suite's
replay of every recorded history use it. Pure, deterministic libraries that the domain uses are passed through
there: re-importing them is slow, and some load data lazily (administrative units, holiday tables).
"""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# workflows.decision_keys holds the worker's keys: a re-imported copy would hold none.
PASSED_THROUGH = ("domain", "activities", "pydantic", "pydantic_core", "vietnam_provinces", "enum_tools", "holidays",
                  "workflows.decision_keys")


def workflow_runner() -> WorkflowRunner:
    """The worker's: workflow code run as it is (the bench's floor worker uses the same)."""
    return UnsandboxedWorkflowRunner()


def checking_runner() -> SandboxedWorkflowRunner:
    """For replays that must prove determinism: the workflow modules re-imported inside the sandbox."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))

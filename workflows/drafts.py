"""The draft of a dossier's result, for the officers' desk: the documents the dossier would get if approved now.

Only the workers read the residence registers, so the desk asks for a draft by starting this short workflow (its
own id, never the dossier's: the dossier's history stays the legal record and takes no message for a preview). One
local activity reads the facts, lays out what the commit would record, and answers the forms' content; the API
renders it. Nothing is written, issued or sent; the content travels encrypted like every payload.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.contracts import DraftRequest, DraftResult
    from activities.dossier import DossierActivities

DRAFT_TIMEOUT = timedelta(seconds=10)
DRAFT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)


def draft_id(dossier_code: str, request_id: str) -> str:
    return f"draft-{dossier_code}-{request_id}"


# Under Worker Versioning a draft, a second long, finishes on the build that started it.
@workflow.defn(name="ResultDraft", versioning_behavior=VersioningBehavior.PINNED)
class ResultDraft:
    @workflow.run
    async def run(self, request: DraftRequest) -> DraftResult:
        result: DraftResult = await workflow.execute_local_activity_method(
            DossierActivities.draft_result, request, start_to_close_timeout=DRAFT_TIMEOUT, retry_policy=DRAFT_RETRY)
        return result

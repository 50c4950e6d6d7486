"""Readying a long-running process (the worker, the API) before its first task or request.

``warm_up`` builds what the first dossier would otherwise build while everything behind it waits: the index of
administrative units that every address is validated against (``domain.admin_units``, read from the
``vietnam_provinces`` tables: hundreds of milliseconds, which the API's first submission used to wait) and, in a
worker, the forms' fonts cut to their character set (``domain.documents.prepare``) and the QR codes' basis for the
verification address the results print (``domain.verification.prepare_qr``). Then it freezes the heap:
everything made while starting (modules, pydantic schemas, the SDK's tables, that index) leaves the collector's
generations for good (``gc.freeze``), so a full collection walks only what tasks and requests made since, not the
hundred thousand objects that live as long as the process. The youngest generation is collected
after 10,000 new container objects instead of 700: most of a task's objects are freed by their reference counts
before that, so fewer collections find the same garbage (docs/benchmarks.md has the measured effect).
"""

from __future__ import annotations

import gc

from domain import documents
from domain.admin_units import all_provinces
from domain.verification import prepare_qr

YOUNGEST_THRESHOLD = 10_000


def warm_up(*, forms: bool = False, verification_url: str | None = None) -> None:
    all_provinces()
    if forms:
        documents.prepare()
    if verification_url is not None:
        prepare_qr(verification_url)
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST_THRESHOLD, middle, oldest)

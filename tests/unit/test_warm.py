"""A long-running process is readied before its first dossier (cutru.platform.warm)."""

from __future__ import annotations

import gc

from cutru.platform.warm import YOUNGEST_THRESHOLD, warm_up
from domain import admin_units, documents, verification


def test_warm_up_builds_the_unit_index_and_freezes_what_startup_made() -> None:
    admin_units._index.cache_clear()
    documents._font_set.cache_clear()
    frozen = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    try:
        warm_up()
        assert admin_units._index.cache_info().currsize == 1
        assert documents._font_set.cache_info().currsize == 0  # only a worker renders forms
        assert gc.get_freeze_count() > frozen
        assert gc.get_threshold()[0] == YOUNGEST_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_worker_also_cuts_the_forms_fonts_and_prepares_its_qr_codes() -> None:
    documents._font_set.cache_clear()
    verification._qr_basis.cache_clear()
    try:
        warm_up(forms=True, verification_url="https://dichvucong.example.vn/v1/verifications")
        assert documents._font_set.cache_info().currsize == 1
        assert verification._qr_basis.cache_info().currsize == 1
        verification.qr_modules("https://dichvucong.example.vn/v1/verifications/7K3QDM2X9A")
        assert verification._qr_basis.cache_info().hits == 1
    finally:
        gc.unfreeze()

"""The checks an uploaded file passes before it is stored (``domain.attachments``), each refusal on its own, and the
built-in malware scanner (``cutru.platform.storage.EicarScanner``)."""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

import pytest

from cutru.platform.storage import EicarScanner
from domain.attachments import MAX_INFLATED_BYTES, MediaType, content_problem, sniff
from tests.attachment_files import eicar_pdf, heic, jpeg, pdf, pdf_bomb, png, zip_archive


def code(data: bytes, declared: MediaType) -> str | None:
    problem = content_problem(data, declared)
    return problem.code if problem else None


@pytest.mark.parametrize(("data", "media_type"), [
    (pdf(b"BT /F1 12 Tf (Xin chao) Tj ET"), MediaType.PDF),
    (png(), MediaType.PNG),
    (jpeg(), MediaType.JPEG),
    (heic(), MediaType.HEIC),
])
def test_each_accepted_type_passes_and_is_told_by_its_first_bytes(data: bytes, media_type: MediaType):
    assert sniff(data) == media_type
    assert code(data, media_type) is None


def test_the_checks_read_a_mapped_file_as_they_read_bytes(tmp_path: Path):
    path = tmp_path / "scan.png"
    path.write_bytes(png(text=b"%PDF-1.4"))
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        problem = content_problem(data, MediaType.PNG)
    assert problem is not None and problem.code == "polyglot"


def test_another_kind_of_file_or_another_type_than_declared_is_refused():
    assert code(b"GIF89a\x01\x00\x01\x00", MediaType.PNG) == "unsupported_type"
    assert code(b"<html><body>hi</body></html>", MediaType.PDF) == "unsupported_type"
    assert code(png(), MediaType.JPEG) == "type_mismatch"
    assert code(pdf(), MediaType.PNG) == "type_mismatch"


@pytest.mark.parametrize(("data", "media_type"), [
    (pdf() + zip_archive(), MediaType.PDF),  # a ZIP reader opens it from its end
    (jpeg() + zip_archive(), MediaType.JPEG),
    (png(text=b"%PDF-1.4 1 0 obj"), MediaType.PNG),  # a PDF reader finds a header in the first 1024 bytes
    (pdf(extra=b"/Note (<script>alert(1)</script>) "), MediaType.PDF),
    (pdf().replace(b"%PDF-1.7\n", b"%PDF-1.7\n<!DOCTYPE html>\n", 1), MediaType.PDF),
])
def test_a_file_that_is_also_another_kind_of_file_is_a_polyglot(data: bytes, media_type: MediaType):
    assert code(data, media_type) == "polyglot"


def test_a_pdf_that_runs_code_or_carries_files_is_refused():
    assert code(pdf(extra=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), MediaType.PDF) \
        == "active_content"
    assert code(pdf(extra=b"/Names << /EmbeddedFiles 5 0 R >> "), MediaType.PDF) == "active_content"
    # A name that merely starts the same way is not an action.
    assert code(pdf(extra=b"/JSONish true "), MediaType.PDF) is None


def test_a_pdf_stream_inflating_past_the_budget_is_a_bomb():
    bomb = pdf_bomb(9 * 2**20)  # 9 KiB that inflate to 9 MiB
    problem = content_problem(bomb, MediaType.PDF, max_inflated=8 * 2**20)
    assert problem is not None and problem.code == "decompression_bomb"
    assert content_problem(bomb, MediaType.PDF, max_inflated=10 * 2**20) is None
    assert MAX_INFLATED_BYTES == 128 * 2**20  # what docs/attachments.md says


def test_an_image_declaring_absurd_dimensions_is_a_bomb():
    assert code(png(20_000, 20_000, pixels=b"\x00"), MediaType.PNG) == "decompression_bomb"
    assert code(jpeg(65_000, 65_000), MediaType.JPEG) == "decompression_bomb"
    assert code(heic(40_000, 40_000), MediaType.HEIC) == "decompression_bomb"


def test_png_data_inflating_beyond_what_its_header_declares_is_a_bomb():
    # 4×3 pixels declare 15 bytes of image data; these inflate to a MiB.
    assert code(png(4, 3, pixels=bytes(2**20)), MediaType.PNG) == "decompression_bomb"


@pytest.mark.parametrize(("data", "media_type"), [
    (pdf()[:-40], MediaType.PDF),
    (png()[:-20], MediaType.PNG),
    (jpeg()[:-1], MediaType.JPEG),
    (heic()[:-5], MediaType.HEIC),
])
def test_a_cut_off_file_is_truncated(data: bytes, media_type: MediaType):
    assert code(data, media_type) == "truncated"


def test_data_after_the_end_of_a_png_is_refused():
    assert code(png() + b"hidden", MediaType.PNG) == "trailing_data"


def test_damaged_image_data_is_refused():
    image = png()
    start = image.index(b"IDAT") + 4
    damaged = image[:start] + b"\xff\xff" + image[start + 2:]
    assert code(damaged, MediaType.PNG) == "corrupt"
    without_frame = b"\xff\xd8" + b"\xff\xda" + struct.pack(">H", 2) + b"\x00" * 8 + b"\xff\xd9"
    assert code(without_frame, MediaType.JPEG) == "corrupt"


async def test_the_built_in_scanner_finds_the_eicar_test_file_and_nothing_else(tmp_path: Path):
    infected, clean = tmp_path / "infected.pdf", tmp_path / "clean.pdf"
    infected.write_bytes(eicar_pdf())
    clean.write_bytes(pdf(b"EICAR is a name, not the test file"))
    scanner = EicarScanner()
    assert await scanner.scan(infected) == "Eicar-Test-Signature"
    assert await scanner.scan(clean) is None
    # The infected file is otherwise a well-formed PDF: only the scan refuses it.
    assert code(eicar_pdf(), MediaType.PDF) is None

"""Verification codes and the QR code on CT07 and CT08: the code as typed, and the QR code drawn in the PDF is the
one of the verification address (rebuilt from the page's rectangles and compared module by module)."""

from __future__ import annotations

import io
import random
import re
from typing import Any

import pytest
import segno
from pydantic import ValidationError
from pypdf import PdfReader

from domain.documents import render
from domain.kinds import DocumentKind
from domain.verification import (
    CODE_BITS,
    QR_MASK,
    _qr_basis,
    code_from_bits,
    normalise,
    printed,
    qr_modules,
    verification_address,
)
from tests.unit.test_documents import make, pdf_text

URL = "https://dichvucong.example.vn/v1/verifications"
CODE = "7K3QDM2X9A"


def test_codes_carry_fifty_bits_in_crockford_base32() -> None:
    assert code_from_bits(0) == "0000000000"
    assert code_from_bits((1 << CODE_BITS) - 1) == "ZZZZZZZZZZ"
    assert code_from_bits(31 << 45 | 1) == "Z000000001"
    with pytest.raises(ValueError):
        code_from_bits(1 << CODE_BITS)


@pytest.mark.parametrize("typed", ["7K3QD-M2X9A", "7k3qd m2x9a", " 7K3QDM2X9A ", "7K3QD-M2X9a"])
def test_a_typed_code_reads_whatever_its_case_and_separators(typed: str) -> None:
    assert normalise(typed) == CODE


def test_letters_that_look_like_digits_read_as_the_digits() -> None:
    assert normalise("IL0O0-00000") == "1100000000"


@pytest.mark.parametrize("typed", ["", "7K3QDM2X9", "7K3QDM2X9AB", "7K3QDM2X9U", "7K3QD/M2X9A", "../etc/pas"])
def test_what_cannot_be_a_code_is_none(typed: str) -> None:
    assert normalise(typed) is None


def test_the_code_is_printed_in_two_groups() -> None:
    assert printed(CODE) == "7K3QD-M2X9A"


def _drawn_matrix(content: bytes) -> list[list[int]]:
    """The QR code drawn on the (last) page: its image mask, one bit per module, back on a grid of modules."""
    page = PdfReader(io.BytesIO(content)).pages[-1]
    stream = page.get_contents()
    assert stream is not None
    found = re.search(rb"BI /W (\d+) /H (\d+) /IM true /BPC 1 /D \[1 0\] /F /AHx ID\n([0-9A-F]+)>\nEI",
                      stream.get_data())
    assert found, "no QR code drawn"
    width, height, data = int(found[1]), int(found[2]), bytes.fromhex(found[3].decode("ascii"))
    row_bytes = (width + 7) // 8
    assert width == height and len(data) == row_bytes * height
    return [[(data[row * row_bytes + column // 8] >> (7 - column % 8)) & 1 for column in range(width)]
            for row in range(height)]


@pytest.mark.parametrize("name", ["Nguyễn Thị Ánh Tuyết", "Zoë Øyvind Łukasz"])  # form_pdf's writer, ReportLab's
@pytest.mark.parametrize("kind", [DocumentKind.CT07, DocumentKind.CT08])
def test_the_qr_code_drawn_is_the_verification_address(kind: DocumentKind, name: str) -> None:
    content = render(make(kind, full_name=name, verification_code=CODE, verification_url=URL))
    expected = segno.make(verification_address(URL, CODE), error="m", micro=False, boost_error=False,
                          mask=QR_MASK)
    assert verification_address(URL, CODE) == f"{URL}/{CODE}"
    assert _drawn_matrix(content) == [list(row) for row in expected.matrix]
    text = pdf_text(content)
    assert "Mã xác thực: 7K3QD-M2X9A" in text and URL in text


def _segno_modules(content: str) -> tuple[int, bytes]:
    matrix = segno.make(content, error="m", micro=False, boost_error=False, mask=QR_MASK).matrix
    return len(matrix), b"".join(matrix)


@pytest.mark.parametrize("url", [URL, "http://127.0.0.1:8000/v1/verifications/", "https://x.vn/v",
                                 "https://dịchvụcông.example.vn/v1/verifications"])
def test_every_codes_qr_code_is_segnos_encoding_of_its_address(url: str) -> None:
    """The codes are composed from a basis of the address (``_QrBasis``), not encoded one by one: module for module
    what segno encodes, for random codes and the extreme ones; an address that is not ASCII is encoded as it is."""
    rng = random.Random(20261207)
    codes = [code_from_bits(0), code_from_bits((1 << CODE_BITS) - 1)] + [
        code_from_bits(rng.getrandbits(CODE_BITS)) for _ in range(60)]
    for code in codes:
        content = verification_address(url, code)
        assert qr_modules(content) == _segno_modules(content), content
    assert (_qr_basis(verification_address(url, codes[0])[:-len(codes[0])]) is None) == (not url.isascii())


def test_a_form_without_a_code_draws_no_qr_code() -> None:
    content = render(make(DocumentKind.CT08))
    stream = PdfReader(io.BytesIO(content)).pages[0].get_contents()
    assert stream is not None and b"BI /W" not in stream.get_data()
    assert "Mã xác thực" not in pdf_text(content)


def test_the_code_changes_the_bytes_and_the_same_code_keeps_them() -> None:
    first = render(make(DocumentKind.CT07, verification_code=CODE, verification_url=URL))
    assert render(make(DocumentKind.CT07, verification_code=CODE, verification_url=URL)) == first
    assert render(make(DocumentKind.CT07, verification_code="7K3QDM2X9B", verification_url=URL)) != first


@pytest.mark.parametrize(("kind", "fields"), [
    (DocumentKind.CT07, {"verification_code": CODE}),  # a code needs the address, and the other way round
    (DocumentKind.CT07, {"verification_url": URL}),
    (DocumentKind.CT04, {"verification_code": CODE, "verification_url": URL}),  # only results carry one
    (DocumentKind.CT07, {"verification_code": "7K3QDM2X9U", "verification_url": URL}),
    (DocumentKind.CT07, {"verification_code": CODE, "verification_url": "javascript:alert(1)"}),
])
def test_a_code_goes_on_results_only_and_with_its_address(kind: DocumentKind, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(kind, **fields)

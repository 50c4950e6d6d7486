"""The result documents CT03–CT08: readable Vietnamese text, the right facts, reproducible bytes."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
import time
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from activities.delivery import write_documents
from domain import documents
from domain.documents import (
    DRAFT_MARK,
    TITLES,
    DocumentData,
    format_date,
    format_signature_date,
    render,
    render_to_store,
)
from domain.kinds import DocumentKind, Procedure
from domain.models import Position, Signer
from domain.procedures.catalogue import PROCEDURES

NAME = "Nguyễn Thị Ánh Tuyết"
DOSSIER = "G01.123.456-260305-0001"
# 20:30 UTC on 4 March is already 5 March in Vietnam: the documents must show the Vietnamese date.
ISSUED = datetime(2026, 3, 4, 20, 30, tzinfo=UTC)

COMMON: dict[str, Any] = {
    "dossier_code": DOSSIER,
    "police_unit": "Công an Phường Hoàn Kiếm",
    "province": "Thành phố Hà Nội",
    "full_name": NAME,
    "personal_id": "001190012345",
    "birth_date": date(1990, 2, 3),
    "address": "Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội",
    "issued_at": ISSUED,
    "officer_name": "Trần Văn Hùng",
}

KIND_FIELDS: dict[DocumentKind, dict[str, Any]] = {
    DocumentKind.CT03: {
        "procedure": Procedure.TEMPORARY_ABSENCE_DECLARATION,
        "absence_from": date(2026, 3, 10),
        "absence_to": date(2027, 6, 30),
        "absence_destination": "Xã Đông Hưng, Tỉnh Hưng Yên",
        "absence_reason": "Đi làm việc dài hạn",
    },
    DocumentKind.CT04: {
        "procedure": Procedure.PERMANENT_RESIDENCE_REGISTRATION,
        "appointment_date": date(2026, 3, 16),
    },
    DocumentKind.CT05: {
        "procedure": Procedure.TEMPORARY_RESIDENCE_REGISTRATION,
        "missing_items": ["Hợp đồng thuê nhà có chữ ký của chủ nhà", "Ý kiến đồng ý của chủ hộ"],
    },
    DocumentKind.CT06: {
        "procedure": Procedure.HOUSEHOLD_SEPARATION,
        "refusal_reason": "Người đề nghị tách hộ chưa có năng lực hành vi dân sự đầy đủ",
    },
    DocumentKind.CT07: {
        "procedure": Procedure.RESIDENCE_CONFIRMATION,
        "valid_until": date(2027, 3, 5),
        "residence_statements": [
            "Nơi thường trú: Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội",
            "Nơi tạm trú: Không có",
        ],
    },
    DocumentKind.CT08: {
        "procedure": Procedure.PERMANENT_RESIDENCE_REGISTRATION,
        "result_text": "Đã đăng ký thường trú tại Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội",
    },
}

# What each form must say beyond the common facts.
EXPECTED: dict[DocumentKind, list[str]] = {
    DocumentKind.CT03: ["10/03/2026", "30/06/2027", "Xã Đông Hưng, Tỉnh Hưng Yên", "Đi làm việc dài hạn"],
    DocumentKind.CT04: ["Hẹn trả kết quả: ngày 16/03/2026", "Ngày tiếp nhận hồ sơ: 05/03/2026"],
    DocumentKind.CT05: ["1. Hợp đồng thuê nhà có chữ ký của chủ nhà", "2. Ý kiến đồng ý của chủ hộ"],
    DocumentKind.CT06: ["Lý do từ chối: Người đề nghị tách hộ chưa có năng lực hành vi dân sự đầy đủ"],
    DocumentKind.CT07: [
        "có giá trị đến ngày 05/03/2027",
        "Nơi thường trú: Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội",
        "Nơi tạm trú: Không có",
    ],
    DocumentKind.CT08: [
        "Kết quả giải quyết: Đã đăng ký thường trú tại Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội"
    ],
}


def make(kind: DocumentKind, **overrides: Any) -> DocumentData:
    return DocumentData(**{**COMMON, "kind": kind, **KIND_FIELDS[kind], **overrides})


def pdf_pages_and_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Lines wrap wherever the layout puts them: compare with single spaces.
    return len(reader.pages), " ".join(text.split())


def pdf_text(content: bytes) -> str:
    pages, text = pdf_pages_and_text(content)
    assert pages == 1
    return text


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_each_form_shows_its_facts(kind: DocumentKind) -> None:
    data = make(kind)
    content = render(data)
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)

    # Extraction must return composed Vietnamese letters (not base letters plus loose marks, not '?').
    assert text == unicodedata.normalize("NFC", text)
    assert NAME in text
    assert "Ánh" in text and "Nguyễn" in text
    assert f"Mã hồ sơ: {DOSSIER}" in text
    assert f"Mẫu {kind.value}" in text
    assert TITLES[kind] in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "CÔNG AN PHƯỜNG HOÀN KIẾM" in text
    spec = PROCEDURES[data.procedure]
    assert spec.vietnamese_name in text
    assert spec.tthc_code in text
    assert "001190012345" in text
    assert "03/02/1990" in text
    # Signature line in Vietnam time (5 March), with the month written without a leading zero.
    assert "Phường Hoàn Kiếm, ngày 05 tháng 3 năm 2026" in text
    assert "Trần Văn Hùng" in text
    for expected in EXPECTED[kind]:
        assert expected in text, expected


def test_a_form_does_not_show_another_forms_title() -> None:
    text = pdf_text(render(make(DocumentKind.CT04)))
    assert TITLES[DocumentKind.CT06] not in text
    assert "Lý do từ chối" not in text


def test_decomposed_input_is_printed_composed() -> None:
    data = make(DocumentKind.CT08, full_name=unicodedata.normalize("NFD", NAME))
    assert data.full_name == NAME
    assert NAME in pdf_text(render(data))


def test_renders_are_byte_identical() -> None:
    for kind in DocumentKind:
        assert render(make(kind)) == render(make(kind)), kind


def test_remembered_text_blocks_follow_the_layout() -> None:
    # The same paragraphs pushed down by a longer address, then back: each form as if rendered first.
    short, long = make(DocumentKind.CT08), make(DocumentKind.CT08, address=COMMON["address"] + ", ngõ 5" * 40)
    first = render(short)
    assert pdf_text(render(long)) != pdf_text(first)
    assert render(short) == first
    assert all(part in pdf_text(render(long)) for part in EXPECTED[DocumentKind.CT08])


def test_output_depends_on_the_data() -> None:
    assert render(make(DocumentKind.CT07)) != render(make(DocumentKind.CT07, valid_until=date(2027, 3, 6)))


def test_render_is_identical_in_another_process() -> None:
    # Activity retries may run on another worker: the hash must not depend on hash seeds or process state.
    root = Path(__file__).resolve().parents[2]
    script = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.unit.test_documents import make; from domain.documents import render;"
        "from domain.kinds import DocumentKind;"
        "print(' '.join(hashlib.sha256(render(make(kind))).hexdigest() for kind in DocumentKind))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=root,
    )
    assert out.stdout.split() == [hashlib.sha256(render(make(kind))).hexdigest() for kind in DocumentKind]


def test_renders_in_several_threads_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fonts are shared by every document of the process, and ReportLab's subsetting is not thread-safe (it
    # moves a read position kept in the font): renders from several threads (an activity run in a thread pool)
    # must not overlap, whatever the timing, and must give the bytes a lone render gives.
    datas = [make(kind) for kind in DocumentKind]
    expected = [render(data) for data in datas]
    build = documents._pdf
    inside, most = 0, 0
    count = threading.Lock()

    def slow_build(*args: Any) -> bytes:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.005)  # room for another thread to come in
        try:
            return build(*args)
        finally:
            with count:
                inside -= 1

    monkeypatch.setattr(documents, "_pdf", slow_build)
    results: list[bytes] = [b""] * len(datas)

    def run(i: int) -> None:
        results[i] = render(datas[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(datas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert results == expected


def test_creation_date_is_the_issue_time() -> None:
    reader = PdfReader(io.BytesIO(render(make(DocumentKind.CT04))))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == ISSUED


def test_metadata_names_the_form_and_the_dossier() -> None:
    reader = PdfReader(io.BytesIO(render(make(DocumentKind.CT04))))
    assert reader.metadata is not None
    assert reader.metadata.title == f"Mẫu CT04 - {TITLES[DocumentKind.CT04]}"
    assert reader.metadata.subject == f"Mã hồ sơ: {DOSSIER}"
    assert reader.metadata.author == "Công an Phường Hoàn Kiếm"
    assert reader.root_object["/Lang"] == "vi"


def test_every_font_is_embedded() -> None:
    # A viewer without the font would substitute one that may lack the Vietnamese letters.
    reader = PdfReader(io.BytesIO(render(make(DocumentKind.CT05))))
    resources: Any = reader.pages[0]["/Resources"]  # pypdf types nested objects loosely
    fonts = resources["/Font"]
    assert len(fonts) == 3  # regular, bold, italic
    for reference in fonts.values():
        font = reference.get_object()
        assert "BeVietnamPro" in font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"]


# Each vowel with no tone mark and the five tones (huyền, sắc, hỏi, ngã, nặng), in both cases, and đ.
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
VIETNAMESE_LETTERS = " ".join(
    "".join(unicodedata.normalize("NFC", vowel + tone) for tone in TONES) for vowel in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
) + " đĐ"


def test_every_vietnamese_letter_prints_in_each_face() -> None:
    # A character the embedded font lacks would be extracted as something else (a NUL): the text coming back
    # equal proves each letter is drawn, in regular (address), bold (name) and italic (the place by the date).
    data = make(
        DocumentKind.CT08,
        full_name=VIETNAMESE_LETTERS,
        address=VIETNAMESE_LETTERS,
        police_unit=f"Công an {VIETNAMESE_LETTERS}",
    )
    text = pdf_text(render(data))
    assert text.count(VIETNAMESE_LETTERS) == 3
    assert f"CÔNG AN {VIETNAMESE_LETTERS.upper()}" in text  # the heading, bold capitals


def test_markup_characters_print_as_written() -> None:
    # Names, addresses and reasons are free text: nothing in them may act as layout markup.
    address = "Số 5 <ngõ 3> & ngách 7 </b> <br/> &amp; &#65;"
    reason = "<font size=40>Lý do</font> & <b>không</b> <para> ]]>"
    text = pdf_text(render(make(DocumentKind.CT06, address=address, refusal_reason=reason)))
    assert f"Nơi cư trú: {address}" in text
    assert f"Lý do từ chối: {reason}" in text


def test_line_breaks_in_the_input_are_kept() -> None:
    reader = PdfReader(io.BytesIO(render(make(DocumentKind.CT06, refusal_reason="Thứ nhất: A.\nThứ hai: B."))))
    lines = [line.strip() for line in reader.pages[0].extract_text().splitlines()]
    assert "Lý do từ chối: Thứ nhất: A." in lines
    assert "Thứ hai: B." in lines


def flushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The (device, inode) of everything flushed with ``os.fsync`` from now on, in order."""
    flushed: list[tuple[int, int]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        status = os.fstat(fd)
        flushed.append((status.st_dev, status.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return flushed


def identity(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_dev, status.st_ino


def test_a_document_s_bytes_and_its_new_names_are_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename survives a power cut only once its directory is flushed, a new directory once its parent is."""
    flushed = flushes(monkeypatch)
    root = tmp_path / "documents"  # made by the first document, as on a fresh volume
    ct04 = render_to_store(make(DocumentKind.CT04), root)
    write_documents([(DocumentKind.CT04, ct04)])
    dossier = root / DOSSIER
    assert flushed == [identity(ct04.path), identity(dossier), identity(root), identity(tmp_path)]

    flushed.clear()
    ct07 = render_to_store(make(DocumentKind.CT07), root)
    write_documents([(DocumentKind.CT07, ct07)])
    assert flushed == [identity(ct07.path), identity(dossier)]

    flushed.clear()  # a retry after a rename whose flush never came: the same bytes, flushed again
    write_documents([(DocumentKind.CT07, ct07)])
    assert flushed == [identity(ct07.path), identity(dossier)]


def test_a_document_s_file_is_written_atomically_and_once(tmp_path: Path) -> None:
    def stored(data: DocumentData) -> documents.RenderedDocument:
        document = render_to_store(data, tmp_path)
        write_documents([(data.kind, document)])
        return document

    data = make(DocumentKind.CT07)
    first = stored(data)
    assert first.path == tmp_path / DOSSIER / "CT07.pdf"
    content = first.path.read_bytes()
    assert first.sha256 == hashlib.sha256(content).hexdigest()
    assert first.size == len(content)
    mtime = first.path.stat().st_mtime_ns

    second = stored(data)
    assert second == first
    assert first.path.stat().st_mtime_ns == mtime  # same content: the file was left alone
    assert sorted(p.name for p in (tmp_path / DOSSIER).iterdir()) == ["CT07.pdf"]  # no temp files left

    changed = stored(make(DocumentKind.CT07, valid_until=date(2027, 3, 6)))
    assert changed.path == first.path and changed.sha256 != first.sha256
    assert hashlib.sha256(changed.path.read_bytes()).hexdigest() == changed.sha256


def test_date_formats() -> None:
    assert format_date(date(2026, 1, 9)) == "09/01/2026"
    assert format_date(datetime(2025, 12, 31, 17, 0, tzinfo=UTC)) == "01/01/2026"
    assert format_signature_date(date(2026, 2, 5)) == "ngày 05 tháng 02 năm 2026"
    assert format_signature_date(date(2026, 11, 25)) == "ngày 25 tháng 11 năm 2026"


@pytest.mark.parametrize(
    ("kind", "overrides"),
    [
        (DocumentKind.CT04, {"appointment_date": None}),
        (DocumentKind.CT05, {"missing_items": []}),
        (DocumentKind.CT06, {"refusal_reason": None}),
        (DocumentKind.CT07, {"valid_until": None}),
        (DocumentKind.CT08, {"result_text": None}),
        (DocumentKind.CT03, {"absence_destination": None}),
        (DocumentKind.CT03, {"absence_to": date(2026, 3, 1)}),  # ends before it starts
        (DocumentKind.CT07, {"procedure": Procedure.PERMANENT_RESIDENCE_REGISTRATION}),  # not its result
        (DocumentKind.CT04, {"appointment_date": date(2026, 3, 1)}),  # before the issue date
        (DocumentKind.CT08, {"issued_at": datetime(2026, 3, 4, 20, 30)}),  # naive datetime
        (DocumentKind.CT08, {"dossier_code": "../escape"}),  # would leave the document directory
        (DocumentKind.CT08, {"personal_id": "12345"}),
    ],
)
def test_invalid_data_is_rejected(kind: DocumentKind, overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(kind, **overrides)


def test_data_is_frozen() -> None:
    data = make(DocumentKind.CT08)
    with pytest.raises(ValidationError):
        data.full_name = "Lê Văn A"  # type: ignore[misc]


def test_long_content_shrinks_to_one_page() -> None:
    items = [
        f"Mục {i}: giấy tờ, tài liệu chứng minh chỗ ở hợp pháp của công dân theo quy định " * 2
        for i in range(12)
    ]
    text = pdf_text(render(make(DocumentKind.CT05, missing_items=items)))  # pdf_text asserts a single page
    for i in range(12):
        assert f"{i + 1}. Mục {i}:" in text


LONG_ITEMS = [
    f"Mục {i}: " + "giấy tờ <bản sao> & tài liệu chứng minh chỗ ở hợp pháp của công dân " * 6
    for i in range(30)
]
LONG_ADDRESS = "Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội; " * 35
LONG_REASON = "Người đề nghị tách hộ chưa có năng lực hành vi dân sự đầy đủ; " * 32


@pytest.mark.parametrize(
    ("kind", "overrides", "expected"),
    [
        (
            DocumentKind.CT05,
            {"missing_items": LONG_ITEMS},
            [f"{i}. {item}" for i, item in enumerate(LONG_ITEMS, start=1)],
        ),
        (
            DocumentKind.CT06,
            {"address": LONG_ADDRESS, "refusal_reason": LONG_REASON},
            [f"Nơi cư trú: {LONG_ADDRESS}", f"Lý do từ chối: {LONG_REASON}"],
        ),
    ],
    ids=["CT05 with 30 long items", "CT06 with a long address and reason"],
)
def test_content_too_long_for_one_page_flows_onto_more_pages(
    kind: DocumentKind, overrides: dict[str, Any], expected: list[str]
) -> None:
    # Even at the smallest size it does not fit: nothing may be cut off, and the signature still comes last.
    pages, text = pdf_pages_and_text(render(make(kind, **overrides)))
    assert pages >= 2
    position = 0
    for part in expected:
        position = text.index(" ".join(part.split()), position)
    assert "CÁN BỘ TIẾP NHẬN HỒ SƠ (Ký, ghi rõ họ tên) Trần Văn Hùng" in text[position:]


def _fonts_of(content: bytes) -> list[Any]:
    reader = PdfReader(io.BytesIO(content))
    resources: Any = reader.pages[0]["/Resources"]
    return [reference.get_object() for reference in resources["/Font"].values()]


def test_forms_embed_the_prebuilt_subsets_and_each_code_draws_its_letter() -> None:
    # Vietnamese text goes through form_pdf: the same font objects in every form. pypdf's extraction reads only
    # the ToUnicode maps, so the glyph each code draws is checked in the embedded font program itself.
    from fontTools.ttLib import TTFont

    content = render(make(DocumentKind.CT08, full_name=VIETNAMESE_LETTERS))
    fonts = _fonts_of(content)
    assert all(font["/BaseFont"].startswith("/CUTRUF+BeVietnamPro-") for font in fonts)
    prefix = documents._font_set().prefix  # the file's start: header and font objects, built once
    assert content.startswith(prefix) and render(make(DocumentKind.CT04)).startswith(prefix)
    codes = documents._font_set().codes
    assert set(VIETNAMESE_LETTERS) <= set(codes) and codes[" "] == 32
    for font in fonts:
        face = font["/BaseFont"].split("+")[1]
        original = TTFont(documents._font_files()[{"Regular": "", "Bold": "B", "Italic": "I"}[face.split("-")[1]]]
                          .open("rb"))
        embedded = TTFont(io.BytesIO(font["/FontDescriptor"]["/FontFile2"].get_data()))
        by_code = embedded["cmap"].getcmap(1, 0).cmap
        original_cmap, glyphs = original.getBestCmap(), original["glyf"]
        for char, code in codes.items():
            drawn = embedded["glyf"][by_code[code]]
            expected = glyphs[original_cmap[ord(char)]]
            assert drawn.numberOfContours == expected.numberOfContours, (face, char)
            assert embedded["hmtx"][by_code[code]][0] == original["hmtx"][original_cmap[ord(char)]][0], (face, char)
            assert font["/Widths"][code - font["/FirstChar"]] == original["hmtx"][original_cmap[ord(char)]][0]


def test_text_beyond_the_prebuilt_set_is_subset_by_reportlab() -> None:
    # A foreign name with letters outside the set still prints: ReportLab subsets what the font has.
    name = "Zoë Øyvind Łukasz"
    assert not documents._font_set().encodable(name)
    content = render(make(DocumentKind.CT08, full_name=name))
    assert name in pdf_text(content)
    assert all(font["/BaseFont"].startswith("/AAAAAA+BeVietnamPro-") for font in _fonts_of(content))
    assert render(make(DocumentKind.CT08, full_name=name)) == content


HEAD = Signer(officer_id="CB-00070-00", full_name="Lê Văn Trưởng", position=Position.HEAD, unit_code="CA-00070")
DEPUTY = Signer(officer_id="CB-00070-02", full_name="Đỗ Thị Phó", position=Position.DEPUTY_HEAD,
                unit_code="CA-00070")


@pytest.mark.parametrize("kind", [DocumentKind.CT03, DocumentKind.CT07, DocumentKind.CT08])
def test_a_result_names_the_head_who_signed_it(kind: DocumentKind) -> None:
    text = pdf_text(render(make(kind, officer_name=None, signer=HEAD)))
    assert "TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM (Ký, ghi rõ họ tên, đóng dấu) Lê Văn Trưởng" in text
    assert "CB-00070" not in text


def test_a_deputy_signs_for_the_head() -> None:
    text = pdf_text(render(make(DocumentKind.CT07, officer_name=None, signer=DEPUTY)))
    assert ("KT. TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM PHÓ TRƯỞNG CÔNG AN (Ký, ghi rõ họ tên, đóng dấu) Đỗ Thị Phó"
            in text)
    assert DEPUTY.title == "Phó Trưởng Công an Phường Hoàn Kiếm"


def test_a_result_without_a_sign_off_leaves_the_heads_name_to_the_pen() -> None:
    text = pdf_text(render(make(DocumentKind.CT08, officer_name=None)))
    assert text.endswith("TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM (Ký, ghi rõ họ tên, đóng dấu)")


def test_a_draft_is_marked_unsigned_and_unverifiable() -> None:
    issued = make(DocumentKind.CT08, officer_name=None, signer=HEAD)
    content = render(issued.model_copy(update={"draft": True}))
    text = pdf_text(content)
    assert text.startswith(f"Mẫu CT08 {DRAFT_MARK} ")
    assert text.endswith("TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM (Dự thảo: chưa ký, chưa đóng dấu) Lê Văn Trưởng")
    metadata = PdfReader(io.BytesIO(content)).metadata
    assert metadata is not None and str(metadata.title).startswith("DỰ THẢO - Mẫu CT08")
    assert DRAFT_MARK not in pdf_text(render(issued))
    with pytest.raises(ValidationError, match="a draft carries no verification code"):
        make(DocumentKind.CT07, draft=True, verification_code="ABCD2345EF",
             verification_url="https://cutru.gov.vn/v1/verifications")


def test_a_receipt_is_not_signed_by_the_head() -> None:
    with pytest.raises(ValidationError, match="receiving officer"):
        make(DocumentKind.CT04, signer=HEAD)

"""The legal result documents (biểu mẫu CT03–CT08) rendered as one-page A4 PDFs.

``DocumentData`` is a plain value: a workflow may build it and pass it to an activity. ``render`` and
``store`` are for activities only: they load a font and write files. fpdf2 is imported inside ``render`` so
that importing this module (e.g. from workflow code, for the model) stays cheap and sandbox-safe.

The text is Vietnamese with diacritics, which the PDF core fonts cannot show; the Be Vietnam Pro TTF (OFL-1.1)
comes from the ``fontpkg-be-vietnam-pro`` PyPI package, a project dependency, and is subset-embedded.

The output is deterministic: the same ``DocumentData`` gives the same bytes (creation date taken from
``issued_at``, no wall clock, no random ids), so the SHA-256 recorded for a document is stable across activity
retries and worker processes.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import unicodedata
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.procedures import PROCEDURES, DocumentKind, Procedure

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset needs no tz database.
VIETNAM_TZ = timezone(timedelta(hours=7), name="ICT")

FONT_PACKAGE = "fontpkg_be_vietnam_pro"
_FONT_FILES = {"": "BeVietnamPro-Regular.ttf", "B": "BeVietnamPro-Bold.ttf", "I": "BeVietnamPro-Italic.ttf"}
_FONT_FAMILY = "BeVietnamPro"

TITLES: dict[DocumentKind, str] = {
    DocumentKind.CT03: "PHIẾU KHAI BÁO TẠM VẮNG",
    DocumentKind.CT04: "PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    DocumentKind.CT05: "PHIẾU HƯỚNG DẪN BỔ SUNG, HOÀN THIỆN HỒ SƠ",
    DocumentKind.CT06: "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ",
    DocumentKind.CT07: "XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",
    DocumentKind.CT08: "THÔNG BÁO KẾT QUẢ GIẢI QUYẾT, HỦY BỎ ĐĂNG KÝ CƯ TRÚ",
}

# Receipt outcomes (CT04–CT06) are signed by the receiving officer; the other forms by the unit head.
_SIGNER: dict[DocumentKind, str] = {
    DocumentKind.CT03: "TRƯỞNG CÔNG AN",
    DocumentKind.CT04: "CÁN BỘ TIẾP NHẬN HỒ SƠ",
    DocumentKind.CT05: "CÁN BỘ TIẾP NHẬN HỒ SƠ",
    DocumentKind.CT06: "CÁN BỘ TIẾP NHẬN HỒ SƠ",
    DocumentKind.CT07: "TRƯỞNG CÔNG AN",
    DocumentKind.CT08: "TRƯỞNG CÔNG AN",
}

# Forms that are a procedure's *result* must be one the procedure produces; receipt outcomes apply to all.
_RESULT_KINDS = frozenset({DocumentKind.CT03, DocumentKind.CT07, DocumentKind.CT08})

_Text = Annotated[str, Field(min_length=1, max_length=500)]
_LongText = Annotated[str, Field(min_length=1, max_length=2000)]


class DocumentData(BaseModel):
    """Everything printed on one form. Strings are normalised to NFC so that decomposed input prints right."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Used as a directory name by ``store``: letters, digits, '.', '_' and '-' only, so it cannot escape.
    dossier_code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    procedure: Procedure
    kind: DocumentKind
    police_unit: _Text  # e.g. "Công an Phường Hoàn Kiếm"
    province: _Text  # full name with its type, e.g. "Thành phố Hà Nội"
    full_name: _Text  # e.g. "Nguyễn Thị Ánh Tuyết"
    personal_id: str = Field(pattern=r"^[0-9]{12}$")
    birth_date: date
    address: _LongText
    issued_at: AwareDatetime

    appointment_date: date | None = None  # CT04
    missing_items: tuple[_Text, ...] = Field(default=(), max_length=30)  # CT05
    refusal_reason: _LongText | None = None  # CT06
    valid_until: date | None = None  # CT07
    residence_statements: tuple[_Text, ...] = Field(default=(), max_length=10)  # CT07
    result_text: _LongText | None = None  # CT08
    absence_from: date | None = None  # CT03
    absence_to: date | None = None  # CT03
    absence_destination: _Text | None = None  # CT03
    absence_reason: _Text | None = None  # CT03
    officer_name: _Text | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _nfc(cls, value: Any) -> Any:
        # Only plain strings: enum members are str subclasses and must stay enum members.
        if type(value) is str:
            return unicodedata.normalize("NFC", value).strip()
        if isinstance(value, list | tuple) and all(type(v) is str for v in value):
            return tuple(unicodedata.normalize("NFC", v).strip() for v in value)
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> DocumentData:
        kind = self.kind
        if kind in _RESULT_KINDS and kind not in PROCEDURES[self.procedure].results:
            raise ValueError(f"{self.procedure} does not produce {kind}")
        required: dict[DocumentKind, tuple[str, ...]] = {
            DocumentKind.CT03: ("absence_from", "absence_to", "absence_destination", "absence_reason"),
            DocumentKind.CT04: ("appointment_date",),
            DocumentKind.CT05: ("missing_items",),
            DocumentKind.CT06: ("refusal_reason",),
            DocumentKind.CT07: ("valid_until", "residence_statements"),
            DocumentKind.CT08: ("result_text",),
        }
        missing = [name for name in required[kind] if not getattr(self, name)]
        if missing:
            raise ValueError(f"{kind} needs {', '.join(missing)}")
        if self.absence_from and self.absence_to and self.absence_to < self.absence_from:
            raise ValueError("absence_to is before absence_from")
        issued_on = self.issued_at.astimezone(VIETNAM_TZ).date()
        for name in ("appointment_date", "valid_until"):
            value = getattr(self, name)
            if value is not None and value < issued_on:
                raise ValueError(f"{name} is before the issue date")
        return self


class StoredDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    sha256: str
    size: int


def format_date(value: date | datetime) -> str:
    """dd/mm/yyyy; a datetime is shown in Vietnam time."""
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM_TZ)
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def format_signature_date(value: date | datetime) -> str:
    """The signature date, "ngày … tháng … năm …", shown in Vietnam time.

    Nghị định 30/2020/NĐ-CP writes a leading 0 only for days below 10 and for months 1 and 2.
    """
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM_TZ)
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def _place_name(police_unit: str) -> str:
    # The place before the date is the unit's area: "Công an Phường Hoàn Kiếm" -> "Phường Hoàn Kiếm".
    prefix = "công an "
    return police_unit[len(prefix) :] if police_unit.lower().startswith(prefix) else police_unit


def _body(data: DocumentData) -> list[tuple[str, str] | str]:
    """The kind-specific lines: (label, value) pairs or whole paragraphs."""
    kind = data.kind
    if kind is DocumentKind.CT03:
        assert data.absence_from and data.absence_to
        return [
            (
                "Thời gian tạm vắng: ",
                f"từ ngày {format_date(data.absence_from)} đến ngày {format_date(data.absence_to)}",
            ),
            ("Nơi đến: ", data.absence_destination or ""),
            ("Lý do tạm vắng: ", data.absence_reason or ""),
            f"{data.police_unit} xác nhận công dân trên đã khai báo tạm vắng "
            f"ngày {format_date(data.issued_at)}.",
        ]
    if kind is DocumentKind.CT04:
        assert data.appointment_date
        return [
            ("Ngày tiếp nhận hồ sơ: ", format_date(data.issued_at)),
            ("Hẹn trả kết quả: ", f"ngày {format_date(data.appointment_date)}"),
            "Hồ sơ đã được tiếp nhận đầy đủ, hợp lệ. Kết quả được trả theo hình thức công dân đã đăng ký.",
        ]
    if kind is DocumentKind.CT05:
        lines: list[tuple[str, str] | str] = [
            "Đề nghị công dân bổ sung, hoàn thiện hồ sơ với các nội dung sau:"
        ]
        lines += [(f"{i}. ", item) for i, item in enumerate(data.missing_items, start=1)]
        lines.append("Thời hạn giải quyết được tính lại từ ngày hồ sơ được bổ sung đầy đủ, hợp lệ.")
        return lines
    if kind is DocumentKind.CT06:
        return [
            f"{data.police_unit} từ chối tiếp nhận, giải quyết hồ sơ của công dân.",
            ("Lý do từ chối: ", data.refusal_reason or ""),
        ]
    if kind is DocumentKind.CT07:
        assert data.valid_until
        lines = [f"{data.police_unit} xác nhận thông tin về cư trú của công dân như sau:"]
        lines += [("- ", statement) for statement in data.residence_statements]
        lines.append(
            f"Xác nhận này có giá trị đến ngày {format_date(data.valid_until)}, "
            "và hết giá trị trước thời hạn nếu thông tin về cư trú của công dân thay đổi."
        )
        return lines
    return [("Kết quả giải quyết: ", data.result_text or "")]


def _font_files() -> dict[str, Any]:
    from importlib import resources

    try:
        root = resources.files(FONT_PACKAGE) / "files"
    except ModuleNotFoundError as exc:  # a missing dependency should say which one
        raise RuntimeError("the PDF font is missing: install the 'fontpkg-be-vietnam-pro' package") from exc
    return {style: root / name for style, name in _FONT_FILES.items()}


# What the forms can print: ASCII, Latin-1 and Latin Extended-A (names of foreigners), the Vietnamese letters
# (ơ, ư and the tone-marked vowels of Latin Extended Additional) and typographic punctuation.
_REPERTOIRE = [
    *range(0x20, 0x7F), *range(0xA0, 0x180), 0x1A0, 0x1A1, 0x1AF, 0x1B0, *range(0x1EA0, 0x1EFA),
    *range(0x2010, 0x2028), 0x20AB,
]


@functools.cache
def _repertoire_fonts() -> dict[str, Path]:
    """The font files cut down, once per process, to the repertoire the forms print.

    fpdf2 parses and subsets the embedded fonts for every document; on the full fonts that is most of a render's
    cost (tens of milliseconds). On these small files it is a fraction, and the PDFs are the same size.
    """
    from contextlib import ExitStack
    from importlib import resources
    from tempfile import mkdtemp

    from fontTools import subset

    directory = Path(mkdtemp(prefix="cutru-fonts-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, layout_features=[], hinting=False)
    files = {}
    with ExitStack() as stack:
        for style, traversable in _font_files().items():
            source = stack.enter_context(resources.as_file(traversable))
            font = subset.load_font(str(source), options)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=_REPERTOIRE)
            subsetter.subset(font)
            files[style] = directory / f"{style or 'R'}.ttf"
            subset.save_font(font, str(files[style]), options)
    return files


# Body text sizes tried in turn until the form fits on one page (long CT05 lists, long reasons).
_BODY_SIZES = (11.0, 10.0, 9.0, 8.0)


def render(data: DocumentData) -> bytes:
    """One A4 page for ``data.kind``; the same data always gives the same bytes.

    The body text shrinks (down to 8 pt) to keep the form on one page; text that still does not fit flows onto
    a second page rather than being cut off.
    """
    fonts = _repertoire_fonts()
    for size in _BODY_SIZES:
        pdf = _draw(data, size, fonts)
        if pdf.page == 1:
            break
    return bytes(pdf.output())


def _draw(data: DocumentData, size: float, fonts: dict[str, Path]) -> Any:  # -> fpdf.FPDF (imported lazily)
    from fpdf import FPDF
    from fpdf.enums import Align, XPos, YPos

    spec = PROCEDURES[data.procedure]
    title = TITLES[data.kind]

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    # Fixed metadata: the creation date is the issue time, not now, so the bytes (and hash) are reproducible.
    pdf.set_creation_date(data.issued_at)
    pdf.set_title(f"Mẫu {data.kind} - {title}")
    pdf.set_subject(f"Mã hồ sơ: {data.dossier_code}")
    pdf.set_author(data.police_unit)
    pdf.set_lang("vi")
    pdf.set_margins(left=18, top=15, right=18)
    pdf.set_auto_page_break(auto=True, margin=15)

    for style, path in fonts.items():
        pdf.add_font(_FONT_FAMILY, style=style, fname=path)

    pdf.add_page()
    width = pdf.epw
    left_w, right_w = width * 0.4, width * 0.6
    line = 5.5
    body_line = size * 0.55  # 6 mm at 11 pt

    # Form code, top right, as on the printed forms.
    pdf.set_font(_FONT_FAMILY, "I", 9)
    pdf.cell(0, 4, f"Mẫu {data.kind}", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    # Heading: issuing unit on the left, the national motto on the right.
    top = pdf.get_y()
    pdf.set_font(_FONT_FAMILY, "", 10)
    pdf.multi_cell(
        left_w,
        line,
        f"CÔNG AN {data.province.upper()}",
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(_FONT_FAMILY, "B", 10)
    pdf.multi_cell(left_w, line, data.police_unit.upper(), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    unit_w = min(pdf.get_string_width(data.police_unit.upper()), left_w) * 0.5
    x_mid = pdf.l_margin + left_w / 2
    pdf.line(x_mid - unit_w / 2, pdf.get_y() + 0.5, x_mid + unit_w / 2, pdf.get_y() + 0.5)
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + left_w, top)
    pdf.set_font(_FONT_FAMILY, "B", 10)
    pdf.cell(
        right_w,
        line,
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        align=Align.C,
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    pdf.set_font(_FONT_FAMILY, "B", 11)
    pdf.cell(right_w, line, "Độc lập - Tự do - Hạnh phúc", align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    motto_w = pdf.get_string_width("Độc lập - Tự do - Hạnh phúc")
    x0 = pdf.l_margin + left_w + (right_w - motto_w) / 2
    pdf.line(x0, pdf.get_y() + 0.5, x0 + motto_w, pdf.get_y() + 0.5)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    # Title and dossier identification.
    pdf.set_font(_FONT_FAMILY, "B", 13)
    pdf.multi_cell(0, 7, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT_FAMILY, "I", 10)
    pdf.cell(0, line, f"Mã hồ sơ: {data.dossier_code}", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)

    def field(label: str, value: str, bold: bool = False) -> None:
        # Label then value wrapped with a hanging indent, so long addresses stay readable.
        pdf.set_font(_FONT_FAMILY, "", size)
        pdf.cell(pdf.get_string_width(label), body_line, label)
        pdf.set_font(_FONT_FAMILY, "B" if bold else "", size)
        pdf.multi_cell(0, body_line, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(text: str) -> None:
        pdf.set_font(_FONT_FAMILY, "", size)
        pdf.multi_cell(0, body_line, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    field("Thủ tục hành chính: ", f"{spec.vietnamese_name} (mã TTHC {spec.tthc_code})")
    field("Họ, chữ đệm và tên: ", data.full_name, bold=True)
    field("Ngày, tháng, năm sinh: ", format_date(data.birth_date))
    field("Số định danh cá nhân: ", data.personal_id)
    field("Nơi cư trú: ", data.address)
    pdf.ln(2)
    for item in _body(data):
        if isinstance(item, str):
            paragraph(item)
        else:
            field(*item)

    # Signature block, right half.
    pdf.ln(size * 0.7)
    sig_x, sig_w = pdf.l_margin + width * 0.45, width * 0.55
    pdf.set_x(sig_x)
    pdf.set_font(_FONT_FAMILY, "I", 11)
    pdf.multi_cell(
        sig_w,
        line,
        f"{_place_name(data.police_unit)}, {format_signature_date(data.issued_at)}",
        align=Align.C,
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    pdf.set_font(_FONT_FAMILY, "B", 11)
    pdf.cell(sig_w, line, _SIGNER[data.kind], align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT_FAMILY, "I", 9)
    pdf.cell(sig_w, line, "(Ký, ghi rõ họ tên)", align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    if data.officer_name:
        pdf.ln(size * 1.4)  # room for the handwritten or stamped signature
        pdf.set_x(sig_x)
        pdf.set_font(_FONT_FAMILY, "B", 11)
        pdf.cell(sig_w, line, data.officer_name, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)

    return pdf


def store(data: DocumentData, directory: Path) -> StoredDocument:
    """Write ``<directory>/<dossier_code>/<kind>.pdf`` atomically; a retry with the same data is a no-op.

    Different data for the same dossier and kind replaces the file (the database row says which one counts).
    """
    import tempfile

    content = render(data)
    digest = hashlib.sha256(content).hexdigest()
    target = Path(directory) / data.dossier_code / f"{data.kind}.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)

    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
        return StoredDocument(path=target, sha256=digest, size=len(content))

    # Temp file in the same directory so os.replace is an atomic rename: readers never see half a PDF.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{data.kind}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; the document is meant to be served
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StoredDocument(path=target, sha256=digest, size=len(content))

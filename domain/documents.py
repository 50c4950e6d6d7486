"""The legal result documents (biểu mẫu CT03–CT08) rendered as one-page A4 PDFs.

``DocumentData`` is a plain value: a workflow may build it and pass it to an activity. ``render`` and
``store`` are for activities only: they load fonts and write files. ReportLab and fontTools are imported inside
the functions that use them, so that importing this module (e.g. from workflow code, for the model) stays cheap
and sandbox-safe.

The text is Vietnamese with diacritics, which the PDF core fonts cannot show; the Be Vietnam Pro TTF (OFL-1.1)
comes from the ``fontpkg-be-vietnam-pro`` PyPI package, a project dependency, and is subset-embedded.

ReportLab lays the forms out because it parses the fonts once per process and copies out each document's
glyphs cheaply; fpdf2, used before, parsed the three fonts again for every document and had fontTools subset
and recompile them at every output. Measured on the same machine (CPU time, median of 50 renders after warm-up):
a CT04 went from 43 ms to 5.5 ms and a CT08 from 43 ms to 5.2 ms, and their PDFs from 23 KB to 20 KB. The
first render in a process pays about 170 ms (fpdf2: 240–330 ms) to prepare the fonts.

The output is deterministic: the same ``DocumentData`` gives the same bytes (creation date taken from
``issued_at``, no wall clock, no random ids), so the SHA-256 recorded for a document is stable across activity
retries and worker processes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
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


@functools.cache
def _fonts() -> dict[str, str]:
    """Register the three faces with ReportLab, once per process; their ReportLab names by style ("", "B", "I").

    ReportLab parses a font once, here, and per document only copies out the glyphs that document uses. It would
    also copy the font's TrueType hinting (the fpgm/prep/cvt programs and every glyph's instructions) into each
    subset, which PDF viewers do without: dropping it first, with fontTools, makes a form's PDF 15 KB (43 %)
    smaller and its render 15–20 % cheaper. (Cutting the fonts down to the characters the forms print, as was done
    for fpdf2, gains nothing more: ReportLab's subsets hold only the glyphs used anyway.) ``asciiReadable`` off,
    since otherwise every subset carries the glyphs of all of ASCII, used or not (another 11 KB and 15 %).
    Shaping is off: the precomposed Vietnamese letters need none, and the bytes must not depend on whether the
    optional uharfbuzz happens to be installed.
    """
    import io

    from fontTools import subset
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    options = subset.Options(hinting=False, notdef_outline=True, layout_features=[])
    names = {style: f"{_FONT_FAMILY}-{style or 'R'}" for style in _FONT_FILES}
    for style, traversable in _font_files().items():
        unhinted = io.BytesIO()
        with traversable.open("rb") as file:  # fontTools reads tables lazily: keep it open until saved
            font = subset.load_font(file, options)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=font.getBestCmap())  # every character the font has
            subsetter.subset(font)
            subset.save_font(font, unhinted, options)
        unhinted.seek(0)
        pdfmetrics.registerFont(TTFont(names[style], unhinted, asciiReadable=False, shapable=False))
    # What <b> in a paragraph switches to; the forms print no bold italic.
    pdfmetrics.registerFontFamily(
        _FONT_FAMILY, normal=names[""], bold=names["B"], italic=names["I"], boldItalic=names["B"]
    )
    return names


# Page geometry in millimetres: A4 with these margins; heading and signature lines are 5.5 mm apart.
_PAGE_MARGINS = {"leftMargin": 18.0, "topMargin": 15.0, "rightMargin": 18.0, "bottomMargin": 15.0}
_LINE = 5.5
_RULE = 0.2  # underline thickness
_INSET = 1.0  # text keeps this far from the left and right edges of its column, as on the forms issued so far

# Body text sizes tried in turn until the form fits on one page (long CT05 lists, long reasons).
_BODY_SIZES = (11.0, 10.0, 9.0, 8.0)

# ReportLab's registered fonts are shared, and its subsetting moves a read position kept in the font object:
# two documents built at once in different threads corrupt each other (or fail). Renders are CPU-bound under the
# GIL anyway, so taking turns costs nothing.
_RENDER_LOCK = threading.Lock()


def render(data: DocumentData) -> bytes:
    """One A4 page for ``data.kind``; the same data always gives the same bytes.

    The body text shrinks (down to 8 pt) to keep the form on one page; text that still does not fit flows onto
    a second page rather than being cut off.
    """
    with _RENDER_LOCK:
        fonts = _fonts()
        for size in _BODY_SIZES:
            content, pages = _build(data, size, fonts)
            if pages == 1:
                break
    return content


def _build(data: DocumentData, size: float, fonts: dict[str, str]) -> tuple[bytes, int]:
    """The PDF with body text at ``size`` points, and its number of pages."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    # The creation date is the issue time, not now, so the bytes (and hash) are reproducible; invariant mode
    # fixes the rest: the document id, which ReportLab derives from SOURCE_DATE_EPOCH when the environment sets
    # it (so set it alike on every worker, or on none).
    created = data.issued_at.astimezone(VIETNAM_TZ).strftime("D:%Y%m%d%H%M%S+07'00'")

    def canvas(*args: Any, **kwargs: Any) -> Any:
        made = Canvas(*args, **kwargs)
        made.setDateFormatter(lambda *_: created)
        return made

    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        **{side: value * mm for side, value in _PAGE_MARGINS.items()},
        title=f"Mẫu {data.kind} - {TITLES[data.kind]}",
        subject=f"Mã hồ sơ: {data.dossier_code}",
        author=data.police_unit,
        creator="cutru",
        initialFontName=fonts[""],  # else the canvas starts in Helvetica and lists it, unembedded, as a resource
        lang="vi",
        invariant=1,
        pageCompression=1,
    )
    frame = Frame(document.leftMargin, document.bottomMargin, document.width, document.height, 0, 0, 0, 0)
    document.addPageTemplates(PageTemplate(frames=[frame]))
    document.build(_story(data, size, fonts, document.width), canvasmaker=canvas)
    return buffer.getvalue(), document.page


def _markup(text: str) -> str:
    """``text`` as paragraph markup: '<' and '&' escaped, its own line breaks kept."""
    from xml.sax.saxutils import escape

    return "<br/>".join(escape(line) for line in text.splitlines())


def _story(data: DocumentData, size: float, fonts: dict[str, str], width: float) -> list[Any]:
    """The form as ReportLab flowables (imported lazily, hence ``Any``), body text at ``size`` points."""
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table
    from reportlab.platypus.flowables import CallerMacro

    def paragraph(
        markup: str,
        style: str,
        points: float,
        leading: float,
        align: int = TA_JUSTIFY,
        indent: float = 0.0,
        hanging: float = 0.0,
    ) -> Any:
        # ``leading`` in millimetres; ``indent`` (all lines) and ``hanging`` (all but the first) in points.
        return Paragraph(
            markup,
            ParagraphStyle(
                style,
                fontName=fonts[style],
                fontSize=points,
                leading=leading * mm,
                alignment=align,
                leftIndent=_INSET * mm + indent + hanging,
                rightIndent=_INSET * mm,
                firstLineIndent=-hanging,
            ),
        )

    def underline(x: float, length: float) -> Any:
        # Takes no room: a rule 0.5 mm below the bottom of the line above, from x in its column.
        def draw(flowable: Any) -> None:
            flowable.canv.setLineWidth(_RULE * mm)
            flowable.canv.line(x, -0.5 * mm, x + length, -0.5 * mm)

        return CallerMacro(draw)

    # Heading: issuing unit on the left, the national motto on the right, each with a short rule beneath.
    left_w, right_w = width * 0.4, width * 0.6
    unit = data.police_unit.upper()
    unit_rule = min(stringWidth(unit, fonts["B"], 10), left_w) * 0.5
    motto = "Độc lập - Tự do - Hạnh phúc"
    motto_rule = stringWidth(motto, fonts["B"], 11)
    left = [
        paragraph(_markup(f"CÔNG AN {data.province.upper()}"), "", 10, _LINE, TA_CENTER),
        paragraph(_markup(unit), "B", 10, _LINE, TA_CENTER),
        underline((left_w - unit_rule) / 2, unit_rule),
    ]
    right = [
        paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "B", 10, _LINE, TA_CENTER),
        paragraph(motto, "B", 11, _LINE, TA_CENTER),
        underline((right_w - motto_rule) / 2, motto_rule),
    ]
    # The font only keeps the table from naming Helvetica; the cells are paragraphs with their own.
    layout: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), fonts[""])]
    layout += [(f"{side}PADDING", (0, 0), (-1, -1), 0) for side in ("LEFT", "RIGHT", "TOP", "BOTTOM")]
    heading = Table([[left, right]], colWidths=(left_w, right_w), style=layout)
    story = [
        paragraph(f"Mẫu {data.kind}", "I", 9, 4, TA_RIGHT),  # form code, top right, as on the printed forms
        Spacer(0, 2 * mm),
        heading,
        Spacer(0, 8 * mm),
        paragraph(_markup(TITLES[data.kind]), "B", 13, 7, TA_CENTER),
        paragraph(_markup(f"Mã hồ sơ: {data.dossier_code}"), "I", 10, _LINE, TA_CENTER),
        Spacer(0, 5 * mm),
    ]

    body_line = size * 0.55  # 6 mm at 11 pt

    def field(label: str, value: str, bold: bool = False) -> Any:
        # Label then value wrapped with a hanging indent, so long addresses stay readable.
        markup = f"<b>{_markup(value)}</b>" if bold else _markup(value)
        hanging = stringWidth(label, fonts[""], size)
        return paragraph(_markup(label) + markup, "", size, body_line, hanging=hanging)

    spec = PROCEDURES[data.procedure]
    story += [
        field("Thủ tục hành chính: ", f"{spec.vietnamese_name} (mã TTHC {spec.tthc_code})"),
        field("Họ, chữ đệm và tên: ", data.full_name, bold=True),
        field("Ngày, tháng, năm sinh: ", format_date(data.birth_date)),
        field("Số định danh cá nhân: ", data.personal_id),
        field("Nơi cư trú: ", data.address),
        Spacer(0, 2 * mm),
    ]
    story += [
        paragraph(_markup(item), "", size, body_line) if isinstance(item, str) else field(*item)
        for item in _body(data)
    ]

    # Signature block, right half, kept in one piece.
    sig_indent = width * 0.45
    signature = [
        paragraph(
            _markup(f"{_place_name(data.police_unit)}, {format_signature_date(data.issued_at)}"),
            "I", 11, _LINE, TA_CENTER, sig_indent,
        ),
        paragraph(_SIGNER[data.kind], "B", 11, _LINE, TA_CENTER, sig_indent),
        paragraph("(Ký, ghi rõ họ tên)", "I", 9, _LINE, TA_CENTER, sig_indent),
    ]
    if data.officer_name:
        signature += [
            Spacer(0, size * 1.4 * mm),  # room for the handwritten or stamped signature
            paragraph(_markup(data.officer_name), "B", 11, _LINE, TA_CENTER, sig_indent),
        ]
    story += [Spacer(0, size * 0.7 * mm), KeepTogether(signature)]
    return story


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

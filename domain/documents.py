"""The legal result documents (biểu mẫu CT03–CT08) rendered as one-page A4 PDFs.

``DocumentData`` is a plain value: a workflow may build it and pass it to an activity. ``render`` and
``render_to_store`` are for activities only: they load fonts; the activities write the files
(``activities.delivery.write_documents``). ReportLab and fontTools are imported inside the functions that use them,
so that importing this module (e.g. from workflow code, for the model) stays cheap and sandbox-safe.

The text is Vietnamese with diacritics, which the PDF core fonts cannot show; the Be Vietnam Pro TTF (OFL-1.1)
comes from the ``fontpkg-be-vietnam-pro`` PyPI package, a project dependency, and is subset-embedded.

The forms are laid out here, line by line, with ReportLab's font metrics: a form is one column of paragraphs,
and ReportLab's own layout engine (platypus: markup parser, flowables, frames) cost as much as writing the PDF.
The file is then written by ``domain.form_pdf`` with font subsets prepared once per process (a fixed character
set: every Vietnamese letter, ASCII, common marks); a form whose text goes beyond that set is written by a
ReportLab canvas, which subsets whatever the font has. Writing every form with ReportLab cost several times the
CPU, most of it building each document's font subsets (docs/benchmarks.md, tuning log). The first render in a
process prepares the fonts.

The output is deterministic: the same ``DocumentData`` gives the same bytes (creation date taken from
``issued_at``, no wall clock, no random ids), so the SHA-256 recorded for a document is stable across activity
retries and worker processes.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import format_date
from domain.kinds import DocumentKind, Procedure
from domain.models import ChecklistItem, Signer
from domain.procedures.catalogue import PROCEDURES
from domain.verification import CODE_PATTERN, VERIFIED_KINDS, printed, qr_modules, verification_address

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from domain.form_pdf import FontSet

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

# Printed at the top of a draft (``DocumentData.draft``), under the form code.
DRAFT_MARK = "DỰ THẢO — CHƯA BAN HÀNH, KHÔNG CÓ GIÁ TRỊ PHÁP LÝ"

# Receipt outcomes (CT04–CT06) are signed by the receiving officer; the results (CT03, CT07, CT08) by the unit head,
# or by a deputy for the head ("KT.", ``Signer.signature_lines``).
_RECEIVING_OFFICER = "CÁN BỘ TIẾP NHẬN HỒ SƠ"

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
    # CT04: how the appointment date was counted (``DeadlineProof.lines_vi``); absent on receipts issued before it.
    deadline_counting: tuple[_LongText, ...] = Field(default=(), max_length=12)
    missing_items: tuple[_Text, ...] = Field(default=(), max_length=30)  # CT05
    checklist: tuple[ChecklistItem, ...] = Field(default=(), max_length=20)  # CT05, item by item when given
    refusal_reason: _LongText | None = None  # CT06
    valid_until: date | None = None  # CT07
    residence_statements: tuple[_Text, ...] = Field(default=(), max_length=10)  # CT07
    result_text: _LongText | None = None  # CT08
    absence_from: date | None = None  # CT03
    absence_to: date | None = None  # CT03
    absence_destination: _Text | None = None  # CT03
    absence_reason: _Text | None = None  # CT03
    officer_name: _Text | None = None  # the receiving officer, on CT04–CT06
    signer: Signer | None = None  # who signed a result form (the head's sign-off); unnamed on one without
    # CT07, CT08: the code anyone may verify the document by, and the public endpoint's address before the code.
    verification_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    verification_url: str | None = Field(default=None, max_length=200, pattern=r"^https?://[!-~]+$")
    # A preview on the officers' desk of the result before it is issued: marked DỰ THẢO, unsigned, unverifiable.
    draft: bool = False

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
        if self.signer is not None and kind not in _RESULT_KINDS:
            raise ValueError(f"{kind} is signed by the receiving officer, not by the unit head")
        if self.absence_from and self.absence_to and self.absence_to < self.absence_from:
            raise ValueError("absence_to is before absence_from")
        issued_on = self.issued_at.astimezone(VIETNAM_TZ).date()
        for name in ("appointment_date", "valid_until"):
            value = getattr(self, name)
            if value is not None and value < issued_on:
                raise ValueError(f"{name} is before the issue date")
        return self

    @model_validator(mode="after")
    def _verifiable(self) -> DocumentData:
        if (self.verification_code is None) != (self.verification_url is None):
            raise ValueError("verification_code and verification_url go together")
        if self.verification_code is not None and self.kind.value not in VERIFIED_KINDS:
            raise ValueError(f"{self.kind} carries no verification code")
        if self.verification_code is not None and self.draft:
            raise ValueError("a draft carries no verification code: it is not an issued document")
        return self


class StoredDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    sha256: str
    size: int


class RenderedDocument(StoredDocument):
    """A document rendered for its place in the store, before an activity writes it there."""

    content: bytes = Field(repr=False)


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
            *(("Cách tính ngày hẹn: " if i == 0 else "- ", line) for i, line in enumerate(data.deadline_counting)),
        ]
    if kind is DocumentKind.CT05:
        lines: list[tuple[str, str] | str] = [
            "Đề nghị công dân bổ sung, hoàn thiện hồ sơ với các nội dung sau:"
        ]
        if data.checklist:
            for i, entry in enumerate(data.checklist, start=1):
                lines += [(f"{i}. ", entry.item), ("   Căn cứ: ", entry.legal_basis),
                          ("   Giấy tờ được chấp nhận: ", "; ".join(kind.vietnamese for kind in entry.accepted_kinds))]
            lines.append("Công dân gửi bổ sung từng mục kèm giấy tờ; hồ sơ được giải quyết tiếp khi đủ các mục.")
        else:
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
    """The three faces registered with ReportLab as the layout measures them, once per process: their ReportLab
    names by style ("", "B", "I").

    ``asciiReadable`` off, since otherwise every subset ReportLab makes carries the glyphs of all of ASCII, used or
    not. Shaping is off: the precomposed Vietnamese letters need none, and the bytes must not depend on whether the
    optional uharfbuzz happens to be installed.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    names = {style: f"{_FONT_FAMILY}-{style or 'R'}" for style in _FONT_FILES}
    for style, traversable in _font_files().items():
        with traversable.open("rb") as file:  # read whole by ReportLab
            pdfmetrics.registerFont(TTFont(names[style], file, asciiReadable=False, shapable=False))
    return names


@functools.cache
def _subsetting_fonts() -> dict[str, str]:
    """The faces ReportLab subsets for a form with text beyond ``form_pdf``'s set, registered at the first such
    form: their names by style.

    ReportLab would copy the font's TrueType hinting (the fpgm/prep/cvt programs and every glyph's instructions)
    into each subset, which PDF viewers do without: dropping it first, with fontTools, makes such a PDF much
    smaller and its render cheaper. The advance widths are the files' own, as the layout measured them.
    """
    import io

    from fontTools import subset
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    options = subset.Options(hinting=False, notdef_outline=True, layout_features=[])
    names = {style: f"{_FONT_FAMILY}-{style or 'R'}-unhinted" for style in _FONT_FILES}
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
    return names


# Page geometry in millimetres: A4 with these margins; heading and signature lines are 5.5 mm apart.
_PAGE_MARGINS = {"leftMargin": 18.0, "topMargin": 15.0, "rightMargin": 18.0, "bottomMargin": 15.0}
_LINE = 5.5
_RULE = 0.2  # underline thickness
_MM = 72 / 25.4  # points per millimetre (ReportLab's mm)
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
            page = _Page()
            _paragraphs(data, size, fonts, page)
            if len(page.pages) == 1:
                break
        return _pdf(data, page.pages)


def _pdf(data: DocumentData, pages: list[list[_Placed]]) -> bytes:
    """The PDF: written directly with the process's prebuilt font subsets (``domain.form_pdf``) when every
    character is in their set, else by ReportLab, which subsets whatever the fonts have."""
    created = data.issued_at.astimezone(VIETNAM_TZ).strftime("D:%Y%m%d%H%M%S+07'00'")
    info = {
        "Title": ("DỰ THẢO - " if data.draft else "") + f"Mẫu {data.kind} - {TITLES[data.kind]}",
        "Subject": f"Mã hồ sơ: {data.dossier_code}",
        "Author": data.police_unit,
        "Creator": "cutru",
        "Producer": "cutru",
        "CreationDate": created,
        "ModDate": created,
    }
    return _direct_pdf(pages, info) or _reportlab_pdf(pages, info)


@functools.cache
def _font_set() -> FontSet:
    """The three faces cut to ``form_pdf``'s character set, once per process, with ReportLab's descriptor
    figures (the layout measures with ReportLab's metrics of the same files)."""
    from reportlab.pdfbase import pdfmetrics

    from domain.form_pdf import Face, FontSet

    names = _fonts()
    faces = []
    for style, traversable in _font_files().items():
        face = pdfmetrics.getFont(names[style]).face
        faces.append(Face(
            name=_FONT_FILES[style].removesuffix(".ttf"), file=traversable, flags=face.flags,
            bbox=tuple(face.bbox), italic_angle=face.italicAngle, ascent=face.ascent, descent=face.descent,
            cap_height=face.capHeight, stem_v=face.stemV,
        ))
    return FontSet(faces)


@functools.cache
def _font_resources() -> dict[str, bytes]:
    """Each style's font resource name in a content stream (``/F1 `` …), as ``_font_set`` names them."""
    return {style: f"/{name} ".encode("ascii") for style, name in zip(_FONT_FILES, _font_set().names, strict=True)}


def prepare() -> None:
    """Load the faces and cut them to the forms' character set now, once per process, rather than while a worker's
    first dossier waits for its first form."""
    _font_set()


def _direct_pdf(pages: list[list[_Placed]], info: dict[str, str]) -> bytes | None:
    """The PDF by ``form_pdf``, or None if some text is outside its character set."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.rl_accel import fp_str

    from domain.form_pdf import write

    streams = []
    for placed_on_page in pages:
        out: list[bytes] = []
        for placed in placed_on_page:
            if placed.mask is not None:
                out.append(_mask_operators(placed.mask).encode("ascii"))
                continue
            if placed.rule is not None:
                x, y, length = placed.rule
                out.append(f"{fp_str(_RULE * _MM)} w {fp_str(x, y)} m {fp_str(x + length, y)} l S\n".encode("ascii"))
                continue
            block = _text_block(placed)
            if block is None:
                return None
            out.append(block)
        streams.append(b"".join(out))
    return write(_font_set(), streams, info, media_box=A4, lang="vi")


@functools.lru_cache(maxsize=4096)
def _text_block(placed: _Placed) -> bytes | None:
    """A placed paragraph's text object (``BT`` … ``ET``), or None if some text is outside ``form_pdf``'s set;
    remembered, since most of a form's paragraphs (headings, labels, fixed sentences, the signature block) land
    where they did on the last form of its kind. The key holds the lines themselves (compared by identity), so
    the same key always means the same lines."""
    from reportlab.lib.rl_accel import fp_str

    paragraph = placed.paragraph
    assert paragraph is not None
    resource = _font_resources()
    size = b" " + fp_str(paragraph.size).encode("ascii") + b" Tf "
    out = [b"BT\n"]
    current: str | None = None
    for line_x, line_baseline, word_space, line in _positions(placed):
        out.append(f"1 0 0 1 {fp_str(line_x, line_baseline)} Tm {fp_str(word_space)} Tw ".encode("ascii"))
        encoded = line.encoded
        if encoded is None:
            return None
        for style, piece in encoded:
            if style != current:
                out += (resource[style], size)
                current = style
            out += (piece, b" Tj ")
        out.append(b"\n")
    out.append(b"ET\n")
    return b"".join(out)


# A module's byte (0 or 1) as the digit of a binary number.
_BINARY_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def _mask_operators(mask: _Mask) -> str:
    """The QR code as an inline image mask, one bit per module (1: dark, painted in the fill colour), scaled to its
    square: some thirty rows of hex instead of three hundred rectangles, each of them placed and formatted."""
    from reportlab.lib.rl_accel import fp_str

    row_bytes = (mask.size + 7) // 8
    pad = 8 * row_bytes - mask.size
    digits = mask.modules.translate(_BINARY_DIGITS)
    rows = "".join(f"{int(digits[i:i + mask.size], 2) << pad:0{2 * row_bytes}X}"
                   for i in range(0, len(digits), mask.size))
    return (f"q {fp_str(mask.side)} 0 0 {fp_str(mask.side)} {fp_str(mask.x, mask.y)} cm\n"
            f"BI /W {mask.size} /H {mask.size} /IM true /BPC 1 /D [1 0] /F /AHx ID\n{rows}>\nEI Q\n")


def _reportlab_pdf(pages: list[list[_Placed]], info: dict[str, str]) -> bytes:
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    fonts = _subsetting_fonts()
    buffer = io.BytesIO()
    # Invariant mode and the issue time as creation date keep the bytes (and hash) reproducible. ReportLab
    # derives the document id from SOURCE_DATE_EPOCH when the environment sets it: set it alike on every worker,
    # or on none.
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, lang="vi",
                    initialFontName=fonts[""])  # else the canvas lists Helvetica, unembedded, as a resource
    canvas.setDateFormatter(lambda *_: info["CreationDate"])
    canvas.setTitle(info["Title"])
    canvas.setSubject(info["Subject"])
    canvas.setAuthor(info["Author"])
    canvas.setCreator(info["Creator"])
    for placed_on_page in pages:
        for placed in placed_on_page:
            _draw(canvas, placed, fonts)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ---- layout: the forms are a column of paragraphs, laid out here line by line and drawn on a ReportLab canvas.
# (ReportLab's platypus did this before at twice the CPU: its paragraph markup parser, flowables and frames are
# general machinery that one fixed, one-column form does not need.)

_Run = tuple[str, str]  # (style "", "B" or "I", text)
_Word = tuple[_Run, ...]


class _Paragraph(NamedTuple):  # a tuple: hashed and compared in C, as the layout's caches key on it
    runs: tuple[_Run, ...]
    size: float  # points
    leading: float  # points
    align: str = "justify"  # "left", "center", "right" or "justify" (the last line and hard breaks: left)
    indent: float = 0.0  # points from the column's text edge, every line
    hanging: float = 0.0  # points more for every line but the first


def _merged(pieces: Iterable[_Run]) -> tuple[_Run, ...]:
    """The pieces with each run of neighbours in one style joined into one."""
    runs: list[_Run] = []
    for style, text in pieces:
        if runs and runs[-1][0] == style:
            runs[-1] = (style, runs[-1][1] + text)
        else:
            runs.append((style, text))
    return tuple(runs)


# Shared between forms by _wrapped, never changed once made; equal only to itself, so that it can key _text_block.
@dataclass(frozen=True, eq=False)
class _Line:
    words: list[_Word]
    width: float  # with one space between words
    justify: bool

    @functools.cached_property
    def segments(self) -> tuple[_Run, ...]:
        """The line as few runs as its styles allow (a space goes with the text before it): one ``textOut`` each."""
        last = len(self.words) - 1
        return _merged(piece for index, word in enumerate(self.words)
                       for piece in ([*word[:-1], (word[-1][0], word[-1][1] + " ")] if index < last else word))

    @functools.cached_property
    def encoded(self) -> tuple[tuple[str, bytes], ...] | None:
        """``segments`` as ``form_pdf``'s strings, or None when a character is outside its set; worked out once for
        the lines ``_wrapped`` shares between forms (headings, labels, fixed sentences)."""
        font_set = _font_set()
        if not all(font_set.encodable(piece) for _, piece in self.segments):
            return None
        return tuple((style, font_set.encode(piece)) for style, piece in self.segments)


@dataclass(frozen=True, slots=True)
class _Mask:
    """A QR code placed: its bottom left corner and side in points, its modules (``verification.qr_modules``)."""

    x: float
    y: float
    side: float
    size: int
    modules: bytes


@dataclass(frozen=True)  # hashable: _text_block is keyed by it
class _Placed:
    """A paragraph's lines (or a rule) at a position on a page, in points from the page's bottom left."""

    x: float
    width: float  # of the paragraph's column
    paragraph: _Paragraph | None
    lines: tuple[_Line, ...]
    baseline: float  # of the first line
    opens: bool = True  # the first line is the paragraph's first (not continued from the page before)
    rule: tuple[float, float, float] | None = None  # x, y, length
    mask: _Mask | None = None  # a QR code


def _words(runs: tuple[_Run, ...]) -> list[list[_Word]]:
    """The runs as hard lines (the input's own line breaks), each a list of words made of styled pieces."""
    lines: list[list[_Word]] = [[]]
    current: list[_Run] = []

    def end_word() -> None:
        if current:
            lines[-1].append(tuple(current))
            current.clear()

    for style, text in runs:
        for index, hard_line in enumerate(text.split("\n")):
            if index:
                end_word()
                lines.append([])
            for position, piece in enumerate(hard_line.split(" ")):
                if position:
                    end_word()
                if piece:
                    current.append((style, piece))
    end_word()
    return lines


@functools.lru_cache(maxsize=1024)
def _wrapped(paragraph: _Paragraph, width: float) -> tuple[_Line, ...]:
    """``_wrap`` with the process's fonts, remembered: most paragraphs of a form (headings, labels, fixed
    sentences) are the same on every form of its kind, so each is measured and broken once per process."""
    return tuple(_wrap(paragraph, width, _fonts()))


def _wrap(paragraph: _Paragraph, width: float, fonts: dict[str, str]) -> list[_Line]:
    """Greedy line breaking; a word longer than a whole line is cut between characters."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = paragraph.size
    space = stringWidth(" ", fonts[""], size)

    def measure(word: _Word) -> float:
        return sum(stringWidth(text, fonts[style], size) for style, text in word)

    lines: list[_Line] = []
    for hard_line in _words(paragraph.runs):
        line: list[_Word] = []
        used = 0.0
        pending = list(hard_line)
        while pending:
            room = width - paragraph.indent - (paragraph.hanging if lines else 0.0)
            word = pending.pop(0)
            word_width = measure(word)
            needed = word_width + (space if line else 0.0)
            if used + needed <= room:
                line.append(word)
                used += needed
                continue
            if line:
                lines.append(_Line(line, used, justify=True))
                line, used = [], 0.0
                pending.insert(0, word)
                continue
            head, tail = _cut(word, room, fonts, size)
            lines.append(_Line([head], measure(head), justify=False))
            pending.insert(0, tail)
        lines.append(_Line(line, used, justify=False))
    return lines


def _cut(word: _Word, room: float, fonts: dict[str, str], size: float) -> tuple[_Word, _Word]:
    """The longest start of ``word`` that fits ``room`` (at least one character), and the rest."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    flat = [(style, char) for style, text in word for char in text]
    used, count = 0.0, 0
    for style, char in flat:
        used += stringWidth(char, fonts[style], size)
        if used > room and count:
            break
        count += 1

    return _merged(flat[:count]), _merged(flat[count:])


class _Page:
    """Places paragraphs down the page frame, starting new pages as they fill."""

    def __init__(self) -> None:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm

        self.left = _PAGE_MARGINS["leftMargin"] * mm
        self.width = A4[0] - (_PAGE_MARGINS["leftMargin"] + _PAGE_MARGINS["rightMargin"]) * mm
        self.top = A4[1] - _PAGE_MARGINS["topMargin"] * mm
        self.bottom = _PAGE_MARGINS["bottomMargin"] * mm
        self.pages: list[list[_Placed]] = [[]]
        self.y = self.top

    def space(self, height: float) -> None:
        self.y = max(self.y - height, self.bottom)

    def lay(self, paragraph: _Paragraph, width: float | None = None) -> tuple[_Line, ...]:
        """The paragraph's lines in a column of ``width`` (default: the frame's)."""
        from reportlab.lib.units import mm

        return _wrapped(paragraph, (self.width if width is None else width) - 2 * _INSET * mm)

    def add(self, paragraph: _Paragraph) -> None:
        """Flow a full-width paragraph down the frame, breaking it between lines at the foot of a page."""
        lines = self.lay(paragraph)
        opens = True
        while lines:
            fit = int((self.y - self.bottom + 1e-6) // paragraph.leading)
            if fit <= 0:
                self.new_page()
                continue
            self.place(paragraph, lines[:fit], 0.0, self.width, self.y, opens=opens)
            self.y -= min(fit, len(lines)) * paragraph.leading
            lines, opens = lines[fit:], False

    def place(self, paragraph: _Paragraph, lines: tuple[_Line, ...], x: float, width: float, top: float, *,
              opens: bool = True) -> None:
        # The first baseline sits one font size below the top (the face's ascent is 1 em), as ReportLab's did.
        self.pages[-1].append(_Placed(self.left + x, width, paragraph, lines, top - paragraph.size, opens))

    def rule(self, x: float, y: float, length: float) -> None:
        self.pages[-1].append(_Placed(self.left + x, 0.0, None, (), y, rule=(self.left + x, y, length)))

    def qr_code(self, y: float, side: float, size: int, modules: bytes) -> None:
        """A QR code at the frame's left edge, its bottom at ``y``."""
        self.pages[-1].append(_Placed(self.left, 0.0, None, (), 0.0, mask=_Mask(self.left, y, side, size, modules)))

    def new_page(self) -> None:
        self.pages.append([])
        self.y = self.top


def _paragraphs(data: DocumentData, size: float, fonts: dict[str, str], page: _Page) -> None:
    """The form, top to bottom, body text at ``size`` points."""
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def para(text: str, style: str, points: float, leading_mm: float, align: str = "justify",
             indent: float = 0.0) -> _Paragraph:
        return _Paragraph(((style, text),), points, leading_mm * mm, align, indent)

    page.add(para(f"Mẫu {data.kind}", "I", 9, 4, "right"))  # form code, top right, as on the printed forms
    if data.draft:
        page.add(para(DRAFT_MARK, "B", 12, 6, "center"))
    page.space(2 * mm)

    # Heading: issuing unit on the left, the national motto on the right, each with a short rule beneath.
    left_w, right_w = page.width * 0.4, page.width * 0.6
    unit = data.police_unit.upper()
    unit_rule = min(stringWidth(unit, fonts["B"], 10), left_w) * 0.5
    motto = "Độc lập - Tự do - Hạnh phúc"
    columns = (
        (0.0, left_w, (para(f"CÔNG AN {data.province.upper()}", "", 10, _LINE, "center"),
                       para(unit, "B", 10, _LINE, "center")), unit_rule),
        (left_w, right_w, (para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "B", 10, _LINE, "center"),
                           para(motto, "B", 11, _LINE, "center")), stringWidth(motto, fonts["B"], 11)),
    )
    bottoms = []
    for x, width, paragraphs, rule in columns:
        y = page.y
        for paragraph in paragraphs:
            lines = page.lay(paragraph, width)
            page.place(paragraph, lines, x, width, y)
            y -= len(lines) * paragraph.leading
        page.rule(x + (width - rule) / 2, y - 0.5 * mm, rule)  # 0.5 mm below the last line's bottom
        bottoms.append(y)
    page.y = min(bottoms)
    page.space(8 * mm)
    page.add(para(TITLES[data.kind], "B", 13, 7, "center"))
    page.add(para(f"Mã hồ sơ: {data.dossier_code}", "I", 10, _LINE, "center"))
    page.space(5 * mm)

    body_line = size * 0.55 * mm  # 6 mm at 11 pt

    def field(label: str, value: str, bold: bool = False) -> _Paragraph:
        # Label then value wrapped with a hanging indent, so long addresses stay readable.
        hanging = stringWidth(label, fonts[""], size)
        return _Paragraph((("", label), ("B" if bold else "", value)), size, body_line, hanging=hanging)

    spec = PROCEDURES[data.procedure]
    for paragraph in (
        field("Thủ tục hành chính: ", f"{spec.vietnamese_name} (mã TTHC {spec.tthc_code})"),
        field("Họ, chữ đệm và tên: ", data.full_name, bold=True),
        field("Ngày, tháng, năm sinh: ", format_date(data.birth_date)),
        field("Số định danh cá nhân: ", data.personal_id),
        field("Nơi cư trú: ", data.address),
    ):
        page.add(paragraph)
    page.space(2 * mm)
    for item in _body(data):
        page.add(_Paragraph((("", item),), size, body_line) if isinstance(item, str) else field(*item))

    # Signature block, right half, kept in one piece.
    page.space(size * 0.7 * mm)
    indent = page.width * 0.45
    signature = [
        para(f"{_place_name(data.police_unit)}, {format_signature_date(data.issued_at)}", "I", 11, _LINE,
             "center", indent),
        *(para(line, "B", 11, _LINE, "center", indent) for line in _signature_lines(data)),
        para(_signing_note(data), "I", 9, _LINE, "center", indent),
    ]
    name = data.signer.full_name if data.signer else data.officer_name
    gap = size * 1.4 * mm if name else 0.0  # room for the handwritten or stamped signature
    named = len(signature)
    if name:
        signature.append(para(name, "B", 11, _LINE, "center", indent))
    height = sum(len(page.lay(p)) * p.leading for p in signature) + gap
    if page.y - height < page.bottom:
        page.new_page()
    for index, paragraph in enumerate(signature):
        if index == named:
            page.space(gap)
        page.add(paragraph)
    if data.verification_code is not None:
        _verification_mark(data, page)


# The verification mark: the QR code this wide, in the last page's bottom left corner, the code beside it.
_QR_SIDE = 22.0  # mm; a version 4 code (33 modules) then has modules of 0.67 mm, which phone cameras read
_QR_GAP = 3.0  # mm between the code and its text, and at least above it


def _verification_mark(data: DocumentData, page: _Page) -> None:
    """The QR code of the document's verification address and the code to type, bottom left of the last page,
    below everything else: on a new page when the form reaches down there."""
    from reportlab.lib.units import mm

    assert data.verification_code is not None and data.verification_url is not None
    side = _QR_SIDE * mm
    if page.y - (side + _QR_GAP * mm) < page.bottom:
        page.new_page()
    page.qr_code(page.bottom, side, *qr_modules(verification_address(data.verification_url, data.verification_code)))
    top = page.bottom + side
    text_x = side + _QR_GAP * mm
    width = page.width - text_x
    y = top
    for text, style, points in ((f"Mã xác thực: {printed(data.verification_code)}", "B", 9),
                                ("Kiểm tra văn bản: quét mã QR, hoặc nhập mã xác thực tại "
                                 f"{data.verification_url}", "", 8)):
        paragraph = _Paragraph(((style, text),), points, points * 0.45 * mm, "left")
        lines = page.lay(paragraph, width)
        page.place(paragraph, lines, text_x, width, y)
        y -= len(lines) * paragraph.leading


def _signing_note(data: DocumentData) -> str:
    if data.draft:
        return "(Dự thảo: chưa ký, chưa đóng dấu)"
    return "(Ký, ghi rõ họ tên, đóng dấu)" if data.kind in _RESULT_KINDS else "(Ký, ghi rõ họ tên)"


def _signature_lines(data: DocumentData) -> tuple[str, ...]:
    """The title above the signature: the signer's for a signed result, the unit head's for a result issued
    without a sign-off (recorded before them), the receiving officer's on a receipt outcome."""
    if data.kind not in _RESULT_KINDS:
        return (_RECEIVING_OFFICER,)
    if data.signer is not None:
        return data.signer.signature_lines
    return (f"TRƯỞNG {data.police_unit.upper()}",)


def _positions(placed: _Placed) -> Iterator[tuple[float, float, float, _Line]]:
    """Each line of a placed paragraph with its start (x, baseline) and the word spacing that justifies it."""
    paragraph = placed.paragraph
    assert paragraph is not None
    left = placed.x + _INSET * _MM + paragraph.indent
    room = placed.width - 2 * _INSET * _MM - paragraph.indent
    baseline = placed.baseline
    for number, line in enumerate(placed.lines):
        hanging = 0.0 if number == 0 and placed.opens else paragraph.hanging
        x = left + hanging
        line_room = room - hanging
        if paragraph.align == "center":
            x += (line_room - line.width) / 2
        elif paragraph.align == "right":
            x += line_room - line.width
        spaces = len(line.words) - 1
        stretch = paragraph.align == "justify" and line.justify and spaces > 0
        yield x, baseline, (line_room - line.width) / spaces if stretch else 0.0, line
        baseline -= paragraph.leading


def _draw(canvas: Any, placed: _Placed, fonts: dict[str, str]) -> None:
    if placed.mask is not None:
        canvas.addLiteral(_mask_operators(placed.mask))
        return
    if placed.rule is not None:
        x, y, length = placed.rule
        canvas.setLineWidth(_RULE * _MM)
        canvas.line(x, y, x + length, y)
        return
    paragraph = placed.paragraph
    assert paragraph is not None
    text = canvas.beginText()
    current: str | None = None
    for x, baseline, word_space, line in _positions(placed):
        text.setTextOrigin(x, baseline)
        text.setWordSpace(word_space)
        for style, piece in line.segments:
            if style != current:
                text.setFont(fonts[style], paragraph.size)
                current = style
            text.textOut(piece)
    canvas.drawText(text)


def render_to_store(data: DocumentData, directory: Path) -> RenderedDocument:
    """Render the document for ``<directory>/<dossier_code>/<kind>.pdf``; nothing is written here."""
    content = render(data)
    return RenderedDocument(path=Path(directory) / data.dossier_code / f"{data.kind}.pdf",
                            sha256=hashlib.sha256(content).hexdigest(), size=len(content), content=content)

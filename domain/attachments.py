"""Attachments: the kinds of paper a citizen may attach, and the checks an uploaded file must pass.

Pure: the checks read a bytes-like buffer (the API maps its spooled temporary file, so a file is never held in
memory as one object) and return the first problem found, or None. What each check refuses, and why, is in
docs/attachments.md.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# What the checks read: bytes, or an mmap of the spooled file (which has ``find`` but no substring ``in``).
Buffer = bytes | mmap.mmap


class AttachmentKind(StrEnum):
    """What a paper is. Each procedure's submission lists the kinds it takes (``attachment_kinds``)."""

    TITLE_DEED = "title_deed"
    RENTAL_CONTRACT = "rental_contract"
    CERTIFIED_RENTAL_CONTRACT = "certified_rental_contract"
    FLOOR_AREA_PROOF = "floor_area_proof"
    CONSENT_LETTER = "consent_letter"
    BIRTH_CERTIFICATE = "birth_certificate"
    MARRIAGE_CERTIFICATE = "marriage_certificate"
    RELATIONSHIP_PROOF = "relationship_proof"
    DIVORCE_DECISION = "divorce_decision"
    RESIDENCE_RIGHT_PROOF = "residence_right_proof"
    DEATH_CERTIFICATE = "death_certificate"
    COURT_DECISION = "court_decision"
    ORGANISATION_LETTER = "organisation_letter"
    SUPERVISING_AUTHORITY_CONSENT = "supervising_authority_consent"
    OTHER = "other"

    @property
    def vietnamese(self) -> str:
        return _KIND_VI[self]


_KIND_VI: Final = {
    AttachmentKind.TITLE_DEED: "Giấy chứng nhận quyền sở hữu nhà ở, quyền sử dụng đất",
    AttachmentKind.RENTAL_CONTRACT: "Hợp đồng, văn bản cho thuê, cho mượn, cho ở nhờ chỗ ở",
    AttachmentKind.CERTIFIED_RENTAL_CONTRACT: "Hợp đồng, văn bản cho thuê, cho mượn, cho ở nhờ đã được công chứng "
                                              "hoặc chứng thực",
    AttachmentKind.FLOOR_AREA_PROOF: "Giấy tờ chứng minh diện tích nhà ở",
    AttachmentKind.CONSENT_LETTER: "Văn bản đồng ý (chủ hộ, chủ sở hữu, cha mẹ hoặc người giám hộ)",
    AttachmentKind.BIRTH_CERTIFICATE: "Giấy khai sinh",
    AttachmentKind.MARRIAGE_CERTIFICATE: "Giấy chứng nhận kết hôn",
    AttachmentKind.RELATIONSHIP_PROOF: "Giấy tờ chứng minh quan hệ nhân thân",
    AttachmentKind.DIVORCE_DECISION: "Bản án, quyết định ly hôn của Tòa án",
    AttachmentKind.RESIDENCE_RIGHT_PROOF: "Giấy tờ chứng minh được tiếp tục sử dụng chỗ ở",
    AttachmentKind.DEATH_CERTIFICATE: "Trích lục khai tử, giấy báo tử",
    AttachmentKind.COURT_DECISION: "Quyết định của Tòa án",
    AttachmentKind.ORGANISATION_LETTER: "Văn bản đề nghị của cơ quan, tổ chức quản lý",
    AttachmentKind.SUPERVISING_AUTHORITY_CONSENT: "Văn bản đồng ý của cơ quan quản lý, giám sát",
    AttachmentKind.OTHER: "Giấy tờ, tài liệu khác",
}


class MediaType(StrEnum):
    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    HEIC = "image/heic"


# A file name as the citizen's device gave it: no path, no control character, no quote (it is echoed in headers).
FILE_NAME_PATTERN: Final = r'^[^/\\\x00-\x1f\x7f"]{1,255}$'

# A scan of an A3 page at 600 dpi is about 70 megapixels; nothing a citizen sends needs more.
MAX_PIXELS: Final = 100_000_000
# The most a file may inflate to, all its compressed streams together: a zip bomb inflates far beyond, and checking
# costs the time to inflate this much (about a second a core). A 35-megapixel colour scan (A4 at 600 dpi) fits.
MAX_INFLATED_BYTES: Final = 128 * 1024 * 1024
# PDF readers look for the header within the first 1024 bytes, and for %%EOF within the last 1024.
_PDF_WINDOW: Final = 1024
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# Markup a browser or a mail client would render or run (the WHATWG sniffing table's scriptable types), anywhere in
# the file: in a document it makes a file that is also a web page.
_MARKUP: Final = re.compile(rb"<(?:script|html|!doctype\s+html|iframe|svg|object|embed|body)[\s>/]", re.IGNORECASE)
# PDF actions that run code, launch programs or carry other files.
_PDF_ACTIVE: Final = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9])")
_PDF_STREAM: Final = re.compile(rb"(?<!end)stream\r?\n")
_INFLATE_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class ContentProblem:
    """Why a file is refused: a stable code, a sentence in English and one in Vietnamese."""

    code: str
    message: str
    message_vi: str


def _problem(code: str, message: str, message_vi: str) -> ContentProblem:
    return ContentProblem(code, message, message_vi)


def sniff(head: Buffer) -> MediaType | None:
    """The media type the first bytes say the file is, or None for any other kind of file."""
    if head[:5] == b"%PDF-":
        return MediaType.PDF
    if head[:3] == b"\xff\xd8\xff":
        return MediaType.JPEG
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return MediaType.PNG
    if head[4:8] == b"ftyp" and bytes(head[8:12]) in _HEIF_BRANDS:
        return MediaType.HEIC
    return None


def content_problem(data: Buffer, declared: MediaType, *, max_inflated: int = MAX_INFLATED_BYTES
                    ) -> ContentProblem | None:
    """The first reason to refuse this file as ``declared``, or None when it is acceptable. ``max_inflated``: how
    much its compressed content may inflate to (tests lower it, to build small bombs)."""
    actual = sniff(data[:16])
    if actual is None:
        return _problem("unsupported_type", "The file is not a PDF, JPEG, PNG or HEIC file.",
                        "Tệp không phải PDF, JPEG, PNG hoặc HEIC.")
    if actual != declared:
        return _problem("type_mismatch", f"The file is a {actual.value} file, not {declared.value} as declared.",
                        f"Tệp có định dạng {actual.value}, không phải {declared.value} như đã khai.")
    return _polyglot(data, actual) or _CHECKS[actual](data, max_inflated)


def _polyglot(data: Buffer, actual: MediaType) -> ContentProblem | None:
    """A file that another program would open as something else: a ZIP archive (a ZIP reader finds its end record
    counted back from the end of the file, whatever comes before), a PDF (its header within the first 1024 bytes) in
    an image, or web markup."""
    if _zip_end_record(data):
        return _problem("polyglot", "The file is also a ZIP archive; send the document alone.",
                        "Tệp đồng thời là tệp nén ZIP; chỉ gửi riêng giấy tờ.")
    if actual != MediaType.PDF and b"%PDF-" in data[:_PDF_WINDOW]:
        return _problem("polyglot", "The image is also a PDF file; send it again as one kind of file.",
                        "Tệp ảnh đồng thời là tệp PDF; hãy gửi lại dưới một định dạng.")
    if _MARKUP.search(data):
        return _problem("polyglot", "The file contains web page markup or script; send a plain scan.",
                        "Tệp chứa mã trang web hoặc mã lệnh; hãy gửi bản quét thông thường.")
    return None


def _zip_end_record(data: Buffer) -> bool:
    """A ZIP end-of-central-directory record whose comment ends exactly at the end of the file (how zipfile, unzip
    and Java's ZipFile find an archive)."""
    start = max(0, len(data) - 22 - 0xFFFF)
    tail = bytes(data[start:])
    position = tail.rfind(b"PK\x05\x06")
    while position >= 0:
        if position + 22 <= len(tail):
            (comment_length,) = struct.unpack_from("<H", tail, position + 20)
            if position + 22 + comment_length == len(tail):
                return True
        position = tail.rfind(b"PK\x05\x06", 0, position)
    return False


def _too_many_pixels(width: int, height: int) -> ContentProblem | None:
    if width * height > MAX_PIXELS:
        return _problem("decompression_bomb",
                        f"The image declares {width}×{height} pixels, more than {MAX_PIXELS:,} in all.",
                        f"Ảnh khai báo {width}×{height} điểm ảnh, vượt quá {MAX_PIXELS:,} điểm ảnh.")
    return None


def _truncated(kind: str) -> ContentProblem:
    return _problem("truncated", f"The {kind} file is incomplete (cut off); send the whole file again.",
                    f"Tệp {kind} không đầy đủ (bị cắt); hãy gửi lại toàn bộ tệp.")


def _inflated_too_much(limit: int) -> ContentProblem:
    return _problem("decompression_bomb", f"The file's compressed content inflates to more than {limit:,} bytes.",
                    f"Nội dung nén trong tệp giải nén vượt quá {limit:,} byte.")


def _check_pdf(data: Buffer, max_inflated: int) -> ContentProblem | None:
    if b"%%EOF" not in data[-_PDF_WINDOW:]:
        return _truncated("PDF")
    if _PDF_ACTIVE.search(data):
        return _problem("active_content", "The PDF carries scripts, launch actions or embedded files; print it to a "
                        "plain PDF or scan it.", "Tệp PDF chứa mã lệnh, lệnh khởi chạy hoặc tệp đính kèm; hãy in "
                        "ra PDF thông thường hoặc quét lại.")
    budget = max_inflated
    for match in _PDF_STREAM.finditer(data):
        spent = _inflate(data, match.end(), budget)
        if spent is None:
            return _inflated_too_much(max_inflated)
        budget -= spent
    return None


def _inflate(data: Buffer, start: int, budget: int) -> int | None:
    """How many bytes the zlib stream at ``start`` inflates to (0 when none starts there), or None past ``budget``:
    inflated a chunk at a time, never more than the budget at once."""
    inflater = zlib.decompressobj()
    produced = 0
    position = start
    while position < len(data) and not inflater.eof:
        chunk = bytes(data[position:position + _INFLATE_CHUNK])
        position += len(chunk)
        try:
            produced += len(inflater.decompress(chunk, budget - produced + 1))
            while inflater.unconsumed_tail and produced <= budget:
                produced += len(inflater.decompress(inflater.unconsumed_tail, budget - produced + 1))
        except zlib.error:
            return produced  # not Flate (a JPEG stream, say), or Flate followed by garbage
        if produced > budget:
            return None
    return produced


def _check_png(data: Buffer, max_inflated: int) -> ContentProblem | None:
    if bytes(data[-12:]) != b"\x00\x00\x00\x00IEND\xaeB`\x82":
        # Nothing may follow IEND: an image with more after it is cut off or carries something else.
        return _truncated("PNG") if data.find(b"IEND") < 0 else _problem(
            "trailing_data", "The PNG file has data after its end; send the image alone.",
            "Tệp PNG có dữ liệu phía sau phần kết thúc ảnh; chỉ gửi riêng ảnh.")
    if len(data) < 33 or bytes(data[12:16]) != b"IHDR":
        return _truncated("PNG")
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    problem = _too_many_pixels(width, height)
    if problem:
        return problem
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    declared = height * (1 + (width * channels * depth + 7) // 8)
    if declared > max_inflated:
        return _inflated_too_much(max_inflated)
    return _check_png_pixels(data, declared)


def _check_png_pixels(data: Buffer, declared: int) -> ContentProblem | None:
    """The image data (IDAT chunks) must not inflate to more than the header declares."""
    inflater = zlib.decompressobj()
    produced = 0
    position = 8
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if position + 12 + length > len(data):
            return _truncated("PNG")
        if kind == b"IDAT":
            try:
                produced += len(inflater.decompress(bytes(data[position + 8:position + 8 + length]),
                                                    declared - produced + 1))
            except zlib.error:
                return _problem("corrupt", "The PNG image data is damaged.", "Dữ liệu ảnh PNG bị hỏng.")
            if produced > declared or inflater.unconsumed_tail:
                return _inflated_too_much(declared)
        position += 12 + length
    return None


_SOF: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _check_jpeg(data: Buffer, max_inflated: int) -> ContentProblem | None:
    if bytes(data[-2:]) != b"\xff\xd9":
        return _truncated("JPEG")
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return _problem("corrupt", "The JPEG image is damaged.", "Ảnh JPEG bị hỏng.")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in _SOF:
            height, width = struct.unpack_from(">HH", data, position + 5)
            return _too_many_pixels(width, height)
        if marker == 0xDA:  # start of scan before any frame header
            break
        position += 2 + length
    return _problem("corrupt", "The JPEG image has no frame header.", "Ảnh JPEG thiếu phần khai báo khung ảnh.")


_ISPE: Final = re.compile(rb"ispe")


def _check_heic(data: Buffer, max_inflated: int) -> ContentProblem | None:
    # ISO base media file: top-level boxes (size, type) follow one another to exactly the end of the file.
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            return _truncated("HEIC")
        (size,) = struct.unpack_from(">I", data, position)
        if size == 1 and position + 16 <= len(data):
            (size,) = struct.unpack_from(">Q", data, position + 8)
        elif size == 0:
            size = len(data) - position
        if size < 8 or position + size > len(data):
            return _truncated("HEIC")
        position += size
    for match in _ISPE.finditer(data):
        if match.end() + 12 <= len(data):
            width, height = struct.unpack_from(">II", data, match.end() + 4)
            problem = _too_many_pixels(width, height)
            if problem:
                return problem
    return None


_CHECKS: Final = {MediaType.PDF: _check_pdf, MediaType.PNG: _check_png, MediaType.JPEG: _check_jpeg,
                  MediaType.HEIC: _check_heic}

# The EICAR anti-virus test file's 68 characters (eicar.org): every virus scanner reports it as if it were a virus,
# which is how a scanning step is tested. Kept in two halves so that this source file is not itself reported.
EICAR: Final = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def contains_eicar(data: Buffer) -> bool:
    return data.find(EICAR) >= 0

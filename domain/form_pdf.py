"""The forms' PDF file, written directly, with one font subset per face built once per process.

ReportLab, which writes a form otherwise, builds each document's font subsets (the glyphs that document uses) and
serialises every object afresh: most of a form's CPU. A form prints Vietnamese text and little else, so here each
face is cut once to a fixed character set (``FontSet.charset``: printable ASCII, every Vietnamese letter, common
typographic marks), and its four PDF objects (font, descriptor, font file, ToUnicode map) are serialised once;
a document adds only its page contents, metadata and cross-reference table. A PDF is larger (the fonts carry the
whole set, not the glyphs used), but a form costs a fraction of the CPU. Text outside the set goes to ReportLab
(``domain.documents``), which subsets whatever the font has.

Each face is a simple TrueType font with a one-byte code per character: printable ASCII keeps its own code (the
space is 32, which word spacing, ``Tw``, needs), the other characters take the free codes in code point order.
The output depends only on the font files, the character set and the caller's content: the same content gives
the same bytes in every process.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Printed by the forms or likely in names, addresses and reasons; a character a face lacks is left out.
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_VOWELS = ("a", "a\u0306", "a\u0302", "e", "e\u0302", "i", "o", "o\u0302", "o\u031b", "u", "u\u031b", "y")
_ASCII = "".join(chr(code) for code in range(32, 127))
_VIETNAMESE = sorted(
    {unicodedata.normalize("NFC", vowel + tone) for vowel in _VOWELS for tone in _TONES}
    | {unicodedata.normalize("NFC", vowel + tone).upper() for vowel in _VOWELS for tone in _TONES}
    | {"đ", "Đ"}
)
_MARKS = "–—‘’“”…•·°«»×±§№€©®äöüñç"
# One-byte codes for the characters beyond ASCII: not 0 (.notdef), not 10 or 13 (a PDF string's line ends).
_FREE_CODES = [code for code in range(1, 32) if code not in (10, 13)] + list(range(127, 256))

_SUBSET_TAG = "CUTRUF"  # six capitals before a subset font's name, as PDF wants


@dataclass(frozen=True)
class Face:
    """A face to embed: its PostScript name, its file, and what the font descriptor says of it."""

    name: str  # e.g. "BeVietnamPro-Regular"
    file: Any  # something with open("rb"), e.g. an importlib.resources Traversable
    flags: int
    bbox: tuple[int, int, int, int]
    italic_angle: float
    ascent: int
    descent: int
    cap_height: int
    stem_v: int


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def text_string(text: str) -> bytes:
    """A PDF text string (metadata): as ASCII when it is, else UTF-16BE with its byte-order mark, in hex."""
    if text.isascii() and text.isprintable():
        return b"(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("ascii") + b")"
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


class FontSet:
    """The faces cut to the character set, their objects serialised once: numbers 1 to 4 × the faces."""

    def __init__(self, faces: Sequence[Face]) -> None:
        from fontTools import subset

        options = subset.Options(hinting=False, notdef_outline=True, layout_features=[], glyph_names=False)
        options.drop_tables += ["GSUB", "GPOS", "GDEF"]
        have: set[int] | None = None
        for face in faces:
            with face.file.open("rb") as file:
                chars = set(subset.load_font(file, options).getBestCmap())
            have = chars if have is None else have & chars
        assert have is not None, "at least one face"
        beyond = [c for c in [*_VIETNAMESE, *sorted(set(_MARKS))] if ord(c) in have and c not in _ASCII]
        if len(beyond) > len(_FREE_CODES):
            raise ValueError("the character set does not fit one byte a character")
        self.codes: dict[str, int] = {c: ord(c) for c in _ASCII} | dict(zip(beyond, _FREE_CODES, strict=False))
        self.charset = frozenset(self.codes)
        # One str.translate does the encoding and a literal string's escapes.
        table: dict[int, str] = {ord(c): chr(code) for c, code in self.codes.items()}
        table |= {ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"}
        self._table = table

        objects: list[bytes] = []
        self.names: list[str] = []  # resource name of each face, in the order given
        for index, face in enumerate(faces):
            self.names.append(f"F{index + 1}")
            with face.file.open("rb") as file:  # fontTools reads tables lazily: keep it open while cutting
                objects += self._face_objects(face, subset.load_font(file, options), 4 * index + 1, options)
        self.objects = objects
        # The file's start (header and font objects) is the same for every document: joined once.
        header = b"%PDF-1.4\n%\x93\x8c\x8b\x9e\n"
        self.offsets: list[int] = []
        chunks = [header]
        position = len(header)
        for number, body in enumerate(objects, start=1):
            chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
            self.offsets.append(position)
            chunks.append(chunk)
            position += len(chunk)
        self.prefix = b"".join(chunks)

    def _face_objects(self, face: Face, font: Any, first: int, options: Any) -> list[bytes]:
        from fontTools import subset
        from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in self.codes])
        subsetter.subset(font)
        glyph_of = font.getBestCmap()
        by_code = {code: glyph_of[ord(char)] for char, code in self.codes.items()}
        # A symbolic TrueType font: the viewer finds a code's glyph through the (1,0) or (3,0) cmap.
        mac = CmapSubtable.newSubtable(6)
        mac.platformID, mac.platEncID, mac.language, mac.cmap = 1, 0, 0, dict(by_code)
        windows = CmapSubtable.newSubtable(4)
        windows.platformID, windows.platEncID, windows.language = 3, 0, 0
        windows.cmap = {0xF000 + code: glyph for code, glyph in by_code.items()}
        font["cmap"].tables = [mac, windows]
        program = io.BytesIO()
        subset.save_font(font, program, options)
        file_bytes = program.getvalue()

        per_em = font["head"].unitsPerEm
        low, high = min(by_code), max(by_code)
        widths = [0] * (high - low + 1)
        for code, glyph in by_code.items():
            widths[code - low] = round(font["hmtx"][glyph][0] * 1000 / per_em)
        base_font = f"{_SUBSET_TAG}+{face.name}"
        font_dict = (
            f"<< /Type /Font /Subtype /TrueType /BaseFont /{base_font} /FirstChar {low} /LastChar {high}"
            f" /Widths [{' '.join(map(str, widths))}] /FontDescriptor {first + 1} 0 R /ToUnicode {first + 3} 0 R >>"
        ).encode("ascii")
        descriptor = (
            f"<< /Type /FontDescriptor /FontName /{base_font} /Flags {face.flags}"
            f" /FontBBox [{' '.join(map(str, face.bbox))}] /ItalicAngle {_number(face.italic_angle)}"
            f" /Ascent {face.ascent} /Descent {face.descent} /CapHeight {face.cap_height} /StemV {face.stem_v}"
            f" /FontFile2 {first + 2} 0 R >>"
        ).encode("ascii")
        mapping = "".join(f"<{code:02X}> <{char.encode('utf-16-be').hex().upper()}>\n"
                          for char, code in sorted(self.codes.items(), key=lambda item: item[1]))
        cmap = (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            f"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            f"/CMapName /{_SUBSET_TAG}-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
            f"{len(self.codes)} beginbfchar\n{mapping}endbfchar\n"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        ).encode("ascii")
        return [font_dict, descriptor, _stream(file_bytes, f"/Length1 {len(file_bytes)}"), _stream(cmap)]

    def encodable(self, text: str) -> bool:
        return self.charset.issuperset(text)

    def encode(self, text: str) -> bytes:
        """``text`` (every character in ``charset``) as a PDF literal string, parentheses included."""
        return b"(" + text.translate(self._table).encode("latin-1") + b")"


def _stream(data: bytes, extra: str = "") -> bytes:
    packed = zlib.compress(data)
    head = f"<< /Length {len(packed)} /Filter /FlateDecode{' ' + extra if extra else ''} >>\nstream\n"
    return head.encode("ascii") + packed + b"\nendstream"


def write(fonts: FontSet, pages: Sequence[bytes], info: Mapping[str, str], *, media_box: tuple[float, float],
          lang: str) -> bytes:
    """The PDF of ``pages`` (each a content stream using the faces as /F1, /F2, …, uncompressed).

    ``info`` is the document information dictionary (``CreationDate`` and the like as PDF date strings, the
    rest text); the file identifier is a digest of the file, so the same input gives the same bytes.
    """
    first = len(fonts.objects) + 1
    info_number, catalog, pages_number = first, first + 1, first + 2
    page_numbers = [pages_number + 1 + 2 * index for index in range(len(pages))]
    resources = " ".join(f"/{name} {4 * index + 1} 0 R" for index, name in enumerate(fonts.names))
    box = f"[0 0 {_number(media_box[0])} {_number(media_box[1])}]"
    info_entries = b" ".join(
        b"/" + key.encode("ascii") + b" "
        + (b"(" + value.encode("ascii") + b")" if key.endswith("Date") else text_string(value))
        for key, value in info.items()
    )
    document = [
        b"<< " + info_entries + b" >>",
        f"<< /Type /Catalog /Pages {pages_number} 0 R /Lang {text_string(lang).decode('ascii')} >>".encode("ascii"),
        f"<< /Type /Pages /Count {len(pages)} /Kids [{' '.join(f'{n} 0 R' for n in page_numbers)}] >>".encode(
            "ascii"),
    ]
    for number, content in zip(page_numbers, pages, strict=True):
        document.append(
            f"<< /Type /Page /Parent {pages_number} 0 R /MediaBox {box} /Resources << /Font << {resources} >> >>"
            f" /Contents {number + 1} 0 R >>".encode("ascii")
        )
        document.append(_stream(content))

    parts = [fonts.prefix]
    offsets = list(fonts.offsets)
    position = len(fonts.prefix)
    for number, body in enumerate(document, start=first):
        chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        offsets.append(position)
        parts.append(chunk)
        position += len(chunk)
    # The fonts are the same in every document: the document's own objects identify it.
    digest = hashlib.md5(b"".join(parts[1:]), usedforsecurity=False).hexdigest().upper()
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)]
    xref += [b"%010d 00000 n \n" % offset for offset in offsets]
    trailer = (
        f"trailer\n<< /Size {len(offsets) + 1} /Root {catalog} 0 R /Info {info_number} 0 R"
        f" /ID [<{digest}> <{digest}>] >>\nstartxref\n{position}\n%%EOF\n"
    ).encode("ascii")
    return b"".join([*parts, *xref, trailer])

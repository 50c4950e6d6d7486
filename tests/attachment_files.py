"""Small files of each accepted type, built byte by byte, and the bad files the upload checks must refuse."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from domain.attachments import EICAR


def pdf(*streams: bytes, extra: bytes = b"") -> bytes:
    """A one-page PDF whose objects carry ``streams`` (each Flate-compressed) and ``extra`` in its catalogue."""
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + extra + b">>\nendobj\n"
    body += b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    body += b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
    for number, content in enumerate(streams, start=4):
        packed = zlib.compress(content)
        body += (f"{number} 0 obj\n<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode()
                 + packed + b"\nendstream\nendobj\n")
    return body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pdf_bomb(inflated: int) -> bytes:
    """A PDF with one stream that inflates to ``inflated`` zero bytes, compressed a MiB at a time."""
    packer = zlib.compressobj(9)
    chunk = bytes(2**20)
    packed = b"".join(packer.compress(chunk) for _ in range(inflated // len(chunk))) + packer.flush()
    return (b"%PDF-1.7\n1 0 obj\n<< /Length " + str(len(packed)).encode() + b" /Filter /FlateDecode >>\nstream\n"
            + packed + b"\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 3, *, pixels: bytes | None = None, text: bytes = b"") -> bytes:
    """A grey 8-bit PNG; ``pixels`` replaces the image data (before compression), ``text`` adds a tEXt chunk."""
    row = b"\x00" + bytes(x % 256 for x in range(width))
    raw = pixels if pixels is not None else row * height
    chunks = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    if text:
        chunks += _chunk(b"tEXt", b"Comment\x00" + text)
    return b"\x89PNG\r\n\x1a\n" + chunks + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def jpeg(width: int = 8, height: int = 8) -> bytes:
    """A baseline JPEG's markers: JFIF header, frame (the size), scan, end (the scan data is not a real image)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sof + sos + b"\x12\x34\x56" + b"\xff\xd9"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def heic(width: int = 64, height: int = 48) -> bytes:
    """An ISO base media file of brand heic whose image spatial extent (ispe) gives its size."""
    ispe = _box(b"ispe", b"\x00\x00\x00\x00" + struct.pack(">II", width, height))
    return (_box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + _box(b"meta", b"\x00\x00\x00\x00" + ispe)
            + _box(b"mdat", b"\x00" * 32))


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<p>not a paper</p>")
    return buffer.getvalue()


def eicar_pdf() -> bytes:
    """A well-formed PDF that carries the EICAR test string (in a comment line), as any file could carry malware."""
    return pdf().replace(b"1 0 obj", b"%" + EICAR + b"\n1 0 obj", 1)

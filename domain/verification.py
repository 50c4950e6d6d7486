"""Verification codes of the result documents (CT07, CT08) and the QR code that carries their address.

A code is 10 characters of Crockford's base32 (digits and capitals without I, L, O, U): 50 random bits, drawn by
the activity that issues the document (``activities.delivery``). Crockford's alphabet because a person types the
code from paper: no letter looks like a digit, and reading it back forgives case, ``I``/``L`` for 1 and ``O`` for 0.
50 bits because guessing has to fail: with ten million documents issued, one guess in about 10^8 hits some
document, and the endpoint's rate limit allows a client a few guesses a minute. It is printed in two groups of five.

The QR code is drawn as an image mask of one bit per module (``documents``), which both PDF writers write alike.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

CODE_LENGTH = 10
CODE_BITS = 5 * CODE_LENGTH
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What a person may type for a character of the alphabet (Crockford's decoding), besides separators.
_READ_AS = {"I": "1", "L": "1", "O": "0"}
CODE_PATTERN = f"^[{ALPHABET}]{{{CODE_LENGTH}}}$"

# Kinds of document that carry a verification code: the results a third party is shown.
VERIFIED_KINDS = ("CT07", "CT08")


def code_from_bits(value: int) -> str:
    """The code of a ``CODE_BITS``-bit number (the activity draws the number)."""
    if not 0 <= value < 1 << CODE_BITS:
        raise ValueError(f"a code carries {CODE_BITS} bits")
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(CODE_BITS - 5, -1, -5))


def normalise(typed: str) -> str | None:
    """The code a person typed or scanned, in canonical form; None when it cannot be one.

    Separators (spaces, hyphens) are dropped, case does not matter, and I, L and O read as 1, 1 and 0."""
    cleaned = "".join(_READ_AS.get(char, char) for char in typed.upper() if char not in " -")
    if len(cleaned) != CODE_LENGTH or any(char not in ALPHABET for char in cleaned):
        return None
    return cleaned


def printed(code: str) -> str:
    """The code as printed and shown: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def verification_address(base_url: str, code: str) -> str:
    """What the QR code carries: the public verification endpoint of the code."""
    return f"{base_url.rstrip('/')}/{code}"


# The QR mask pattern, fixed: every one of the eight is valid and decodes alike (ISO/IEC 18004, 7.8), and choosing the
# best means scoring all eight in pure Python, most of a code's CPU (docs/benchmarks.md), paid by every CT07 and CT08.
QR_MASK = 0


def qr_modules(content: str) -> tuple[int, bytes]:
    """The QR code of ``content`` (error correction M, about 15 % of it may be lost): its size in modules and its
    modules row after row, one byte each, 1 for dark."""
    prefix, code = content[:-CODE_LENGTH], content[-CODE_LENGTH:]
    basis = _qr_basis(prefix) if re.fullmatch(CODE_PATTERN, code) else None
    if basis is None:
        matrix = _segno_matrix(content)
        return len(matrix), b"".join(matrix)
    return basis.matrix(code)


def _segno_matrix(content: str | bytes) -> tuple[bytearray, ...]:
    import segno  # pure Python, no image library; imported here so that workflow code importing this stays light

    # Bytes in byte mode, as a text of ASCII goes (the basis below relies on it and checks it).
    mode = "byte" if isinstance(content, bytes) else None
    matrix: tuple[bytearray, ...] = segno.make(content, error="m", micro=False, boost_error=False, mask=QR_MASK,
                                               mode=mode).matrix
    return matrix


class _QrBasis(NamedTuple):
    """The QR codes of one verification address and any code, without encoding each: with the version, error
    correction level and mask fixed, a QR code's modules are an affine function of its data bits over GF(2) (the
    Reed-Solomon check bytes are linear in the data, the placement is a permutation, the mask and the function
    patterns are constant). So the code of ``prefix + ALPHABET[0] * CODE_LENGTH`` and, for each bit of the code's
    bytes, what flipping that bit flips, give every other code by XOR: a few microseconds instead of a millisecond
    of segno's pure-Python encoding, paid by every CT07 and CT08 (docs/benchmarks.md)."""

    size: int
    base: int  # the modules, row after row, one byte each (0 or 1), as one integer
    flips: tuple[int, ...]  # per bit of the code's bytes, most significant first, the modules it flips

    def matrix(self, code: str) -> tuple[int, bytes]:
        modules = self.base
        for position, (char, zero) in enumerate(zip(code.encode("ascii"), _ZERO_CODE, strict=True)):
            difference = char ^ zero
            for bit in range(8):
                if difference & (0x80 >> bit):
                    modules ^= self.flips[8 * position + bit]
        return self.size, modules.to_bytes(self.size * self.size, "big")


_ZERO_CODE = ALPHABET[0].encode("ascii") * CODE_LENGTH


@functools.lru_cache(maxsize=4)
def _qr_basis(prefix: str) -> _QrBasis | None:
    """The basis of ``prefix``'s codes (about 80 encodings, once per address and process); None when the address
    is not ASCII, so that its text is not the bytes QR codes it (segno then encodes each code)."""
    if not prefix.isascii():
        return None
    base_bytes = prefix.encode("ascii") + _ZERO_CODE

    def flat(content: bytes) -> tuple[int, int]:
        matrix = _segno_matrix(content)
        return len(matrix), int.from_bytes(b"".join(matrix), "big")

    size, base = flat(base_bytes)
    if _segno_matrix(base_bytes.decode("ascii")) != _segno_matrix(base_bytes):
        return None
    flips = []
    for position in range(len(prefix), len(base_bytes)):
        for bit in range(8):
            variant = bytearray(base_bytes)
            variant[position] ^= 0x80 >> bit
            flipped_size, flipped = flat(bytes(variant))
            if flipped_size != size:
                return None
            flips.append(flipped ^ base)
    return _QrBasis(size, base, tuple(flips))


def prepare_qr(base_url: str) -> None:
    """Build the basis of ``base_url``'s codes now, rather than while a worker's first result waits for it."""
    _qr_basis(verification_address(base_url, ALPHABET[0] * CODE_LENGTH)[:-CODE_LENGTH])

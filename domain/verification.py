"""Verification codes of the result documents (CT07, CT08) and the QR code that carries their address.

A code is 10 characters of Crockford's base32 (digits and capitals without I, L, O, U): 50 random bits, drawn by
the activity that issues the document (``activities.delivery``). Crockford's alphabet because a person types the
code from paper: no letter looks like a digit, and reading it back forgives case, ``I``/``L`` for 1 and ``O`` for 0.
50 bits because guessing has to fail: with ten million documents issued, one guess in about 10^8 hits some
document, and the endpoint's rate limit allows a client a few guesses a minute. It is printed in two groups of five.

The QR code is drawn as filled squares (vector, no image): the layout places them, both PDF writers draw them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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


class Square(NamedTuple):
    """A dark run of a QR code's row: ``width`` modules from ``column``, in row ``row`` (row 0 at the top). A named
    tuple: a code has some three hundred of them, and a frozen dataclass costs several times as much to make."""

    row: int
    column: int
    width: int


# The QR mask pattern, fixed: every one of the eight is valid and decodes alike (ISO/IEC 18004, 7.8), and choosing the
# best means scoring all eight in pure Python, most of a code's CPU (docs/benchmarks.md), paid by every CT07 and CT08.
QR_MASK = 0


def qr_modules(content: str) -> tuple[int, list[Square]]:
    """The QR code of ``content`` (error correction M, about 15 % of it may be lost): its size in modules and its
    dark runs, a row's adjacent dark modules joined so that a PDF draws few rectangles."""
    import segno  # pure Python, no image library; imported here so that workflow code importing this stays light

    matrix = segno.make(content, error="m", micro=False, boost_error=False, mask=QR_MASK).matrix
    return len(matrix), list(_runs(matrix))


# A row's dark runs, found by the regular expression engine rather than a Python loop over every module.
_DARK_RUN = re.compile(rb"[^\x00]+")


def _runs(matrix: tuple[bytearray, ...]) -> Iterator[Square]:
    for row, modules in enumerate(matrix):
        for run in _DARK_RUN.finditer(modules):
            yield Square(row, run.start(), run.end() - run.start())

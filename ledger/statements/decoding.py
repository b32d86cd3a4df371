"""Bytes into text: a byte-order mark decides when there is one, else the given encoding.

A file that does not decode is refused, naming the line and the byte where it stops being
text in that encoding (a Latin-1 export read as UTF-8 stops at its first accented letter).
"""

from __future__ import annotations

import codecs
from typing import Literal

from ledger.statements.errors import StatementError

Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "windows-1252", "utf-16"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-8-sig", "latin-1", "windows-1252", "utf-16")
_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "latin-1": "Latin-1",
    "windows-1252": "Windows-1252",
    "utf-16": "UTF-16",
}


def bom_encoding(data: bytes) -> Encoding | None:
    """The encoding a byte-order mark at the start says, if any."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def decode(data: bytes, encoding: Encoding) -> str:
    """The file's text: the byte-order mark's encoding when there is one, else ``encoding``;
    the mark itself is dropped."""
    chosen = bom_encoding(data) or encoding
    try:
        text = data.decode(chosen)
    except UnicodeDecodeError as error:
        line = data[: error.start].decode(chosen, errors="replace").count("\n") + 1
        raise StatementError(
            f"byte {error.start + 1} of the file (0x{data[error.start]:02X}) is not "
            f"{_NAMES[chosen]} text; is the file in another encoding (UTF-8, Latin-1, "
            "Windows-1252, UTF-16)?",
            line=line,
        ) from None
    return text.removeprefix("\ufeff")
